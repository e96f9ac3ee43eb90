// Small SVG line charts drawn by the page (no library, no network): one per series of the
// summary's per-second points, the last five minutes.
const svgNs = "http://www.w3.org/2000/svg";
const width = 300;
const height = 60;
export const keep = 300;

function el(name, attrs = {}) {
  const node = document.createElementNS(svgNs, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** A chart in `parent`: `title`, a value formatter, and which field of a point it draws. */
export function lineChart(parent, { title, field, format }) {
  const box = document.createElement("div");
  box.className = "chart";
  box.dataset.series = field;
  const head = document.createElement("div");
  head.className = "title";
  const name = document.createElement("span");
  name.textContent = title;
  const now = document.createElement("span");
  now.className = "now";
  head.append(name, now);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img", "aria-label": title });
  const base = el("line", { x1: 0, y1: height - 1, x2: width, y2: height - 1 });
  const line = el("polyline", { points: "" });
  svg.append(base, line);
  box.append(head, svg);
  parent.append(box);
  const values = [];

  function draw() {
    const finite = values.map((v) => (typeof v === "number" && Number.isFinite(v) ? v : 0));
    const max = Math.max(...finite, 1e-9);
    const step = width / Math.max(1, keep - 1);
    const offset = keep - finite.length;
    line.setAttribute(
      "points",
      finite.map((v, i) => `${((offset + i) * step).toFixed(1)},${(height - 2 - (v / max) * (height - 6)).toFixed(1)}`).join(" "),
    );
    const last = values.at(-1);
    now.textContent = `${last === null || last === undefined ? "–" : format(last)} (max ${format(max)})`;
    svg.dataset.points = String(finite.length);
  }

  return {
    /** Adds points (oldest first) and redraws. */
    push(points) {
      for (const p of points) values.push(p[field]);
      while (values.length > keep) values.shift();
      draw();
    },
  };
}
