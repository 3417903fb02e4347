/** One line of the chart: MB/s at each file size. */
export interface Series {
  label: string;
  color: string;
  points: { bytes: number; mbps: number }[];
  dashed?: boolean;
}

/**
 * An SVG line chart of throughput against file size (log scale), with the Helia peer and
 * ceilings as reference lines. Plain SVG: no plotting dependency, renders anywhere.
 */
export function throughputChart(
  title: string,
  series: Series[],
  references: { label: string; mbps: number; color: string }[],
): string {
  const width = 720;
  const height = 420;
  const left = 70;
  const right = 200;
  const top = 40;
  const bottom = 50;
  const sizes = [...new Set(series.flatMap((s) => s.points.map((p) => p.bytes)))].sort(
    (a, b) => a - b,
  );
  const maxY =
    Math.max(
      ...series.flatMap((s) => s.points.map((p) => p.mbps)),
      ...references.map((r) => r.mbps),
    ) * 1.1;
  const minX = Math.log2(sizes[0]!);
  const maxX = Math.log2(sizes.at(-1)!);
  const x = (bytes: number) =>
    left + ((Math.log2(bytes) - minX) / Math.max(1, maxX - minX)) * (width - left - right);
  const y = (mbps: number) => top + (1 - mbps / maxY) * (height - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${title}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${title}</text>`,
    `<line x1="${left}" y1="${y(0)}" x2="${width - right}" y2="${y(0)}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${y(0)}" stroke="#333"/>`,
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">file size</text>`,
    `<text x="18" y="${(top + height - bottom) / 2}" transform="rotate(-90 18 ${(top + height - bottom) / 2})" text-anchor="middle">MB/s</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const value = (maxY / 5) * i;
    parts.push(
      `<line x1="${left}" y1="${y(value)}" x2="${width - right}" y2="${y(value)}" stroke="#eee"/>`,
    );
    parts.push(
      `<text x="${left - 6}" y="${y(value) + 4}" text-anchor="end">${value.toFixed(0)}</text>`,
    );
  }
  for (const bytes of sizes) {
    const label = bytes >= 2 ** 30 ? `${bytes / 2 ** 30} GiB` : `${bytes / 2 ** 20} MiB`;
    parts.push(`<text x="${x(bytes)}" y="${y(0) + 18}" text-anchor="middle">${label}</text>`);
  }
  let legend = top;
  for (const reference of references) {
    parts.push(
      `<line x1="${left}" y1="${y(reference.mbps)}" x2="${width - right}" y2="${y(reference.mbps)}" stroke="${reference.color}" stroke-dasharray="4 4"/>`,
    );
    parts.push(
      `<text x="${width - right + 8}" y="${legend + 4}" fill="${reference.color}">- - ${reference.label}</text>`,
    );
    legend += 18;
  }
  for (const s of series) {
    const path = s.points
      .map((p, i) => `${i === 0 ? "M" : "L"}${x(p.bytes).toFixed(1)},${y(p.mbps).toFixed(1)}`)
      .join(" ");
    parts.push(
      `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 3"' : ""}/>`,
    );
    for (const p of s.points)
      parts.push(`<circle cx="${x(p.bytes)}" cy="${y(p.mbps)}" r="3.5" fill="${s.color}"/>`);
    parts.push(
      `<text x="${width - right + 8}" y="${legend + 4}" fill="${s.color}">— ${s.label}</text>`,
    );
    legend += 18;
  }
  parts.push("</svg>");
  return parts.join("\n");
}
