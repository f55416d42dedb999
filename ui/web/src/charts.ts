// Bar charts drawn with Observable Plot (SVG), made usable without a mouse
// or without sight: every bar that leads to events is a focusable button
// named like "Arrests, September 2010: 26" (Enter or Space opens its
// events), the axes are hidden from assistive technology, and the caller
// puts a table of the same figures under each chart.
import * as Plot from "@observablehq/plot";
import { count } from "./format";

/**
 * The Okabe–Ito palette: eight colours that people with any common
 * colour-vision deficiency can tell apart. Single-series bars use its
 * blue (5.2:1 against white).
 */
export const okabeIto = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
export const barColour = okabeIto[0]!;

export interface Bar {
  /** key places the bar (a time key or a category). */
  key: string;
  /** tick is the axis label of the key. */
  tick: string;
  /** name is the bar's accessible name: "Arrests, September 2010: 26". */
  name: string;
  value: number;
  /** series stacks and colours the bar (horizontal charts only). */
  series?: string;
  /** activate opens the events behind the bar; absent: not a button. */
  activate?: () => void;
}

export interface ChartSpec {
  orientation: "vertical" | "horizontal";
  bars: Bar[];
  width: number;
  /** valueLabel names the value axis: "Arrests". */
  valueLabel: string;
  /** series: the stack's categories in order, with their names. */
  series?: { domain: string[]; name: (s: string) => string };
}

/** Plot draws with this class instead of its own (whose <style> the page's CSP refuses). */
const className = "cb-chart";

export function renderChart(spec: ChartSpec): SVGSVGElement {
  const { bars, width } = spec;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const keys = [...new Set(bars.map((b) => b.key))];
  const tickOf = new Map(bars.map((b) => [b.key, b.tick]));
  const common = {
    title: (b: Bar) => b.name,
    ariaLabel: (b: Bar) => b.name,
    stroke: spec.series ? "#333333" : null,
    strokeWidth: 0.5,
  };
  const colour = spec.series
    ? { fill: (b: Bar) => b.series ?? "", ...common }
    : { fill: barColour, ...common };
  let chart: Element;
  if (spec.orientation === "vertical") {
    const dense = keys.length > 8 && width < 560;
    chart = Plot.plot({
      className,
      width,
      height: 260,
      marginLeft: 52,
      marginBottom: dense ? 48 : 32,
      x: { domain: keys, label: null, tickFormat: (k: string) => tickOf.get(k) ?? k, tickRotate: dense ? -45 : 0, padding: 0.15 },
      y: { domain: [0, max], grid: true, label: spec.valueLabel, tickFormat: (v: number) => count(v), nice: true },
      marks: [Plot.barY(bars, { x: "key", y: "value", ...colour }), Plot.ruleY([0])],
    });
  } else {
    const longest = Math.max(...keys.map((k) => (tickOf.get(k) ?? k).length), 4);
    chart = Plot.plot({
      className,
      width,
      height: Math.max(90, keys.length * 34 + 40),
      marginLeft: Math.min(Math.round(width * 0.42), 12 + longest * 7),
      marginRight: 16,
      y: { domain: keys, label: null, tickFormat: (k: string) => tickOf.get(k) ?? k, padding: 0.2 },
      x: { grid: true, label: spec.valueLabel, tickFormat: (v: number) => count(v), nice: true, ticks: Math.max(2, Math.floor(width / 110)) },
      color: spec.series ? { domain: spec.series.domain, range: okabeIto } : undefined,
      marks: [
        spec.series
          ? Plot.barX(bars, Plot.stackX({ y: "key", x: "value", order: spec.series.domain, ...colour }))
          : Plot.barX(bars, { y: "key", x: "value", ...colour }),
        Plot.ruleX([0]),
      ],
    });
  }
  const svg = chart as SVGSVGElement;
  makeAccessible(svg, bars);
  return svg;
}

/**
 * makeAccessible drops Plot's <style> element (inline style, refused by
 * the page's CSP: app.css carries the same rules), hides the axes and
 * gridlines from assistive technology, and turns each bar that leads to
 * events into a button reachable with Tab.
 */
function makeAccessible(svg: SVGSVGElement, bars: Bar[]): void {
  svg.querySelectorAll("style").forEach((s) => s.remove());
  svg.removeAttribute("aria-label");
  svg.removeAttribute("aria-description");
  svg.setAttribute("role", "group");
  const byName = new Map(bars.map((b) => [b.name, b]));
  for (const g of Array.from(svg.children)) {
    if (!(g instanceof SVGGElement)) continue;
    const rects = g.querySelectorAll("rect[aria-label]");
    if (rects.length === 0) {
      g.setAttribute("aria-hidden", "true"); // axes, grid, rules
      continue;
    }
    g.removeAttribute("aria-label");
    for (const rect of Array.from(rects)) {
      const bar = byName.get(rect.getAttribute("aria-label") ?? "");
      if (!bar) continue;
      rect.setAttribute("data-key", bar.key);
      if (bar.series !== undefined) rect.setAttribute("data-series", bar.series);
      rect.setAttribute("data-value", String(bar.value));
      if (!bar.activate) {
        // Nothing to open (no events): the table under the chart says it.
        rect.setAttribute("aria-hidden", "true");
        continue;
      }
      rect.setAttribute("role", "button");
      rect.setAttribute("tabindex", "0");
      rect.classList.add("bar");
      const activate = bar.activate;
      rect.addEventListener("click", () => activate());
      rect.addEventListener("keydown", (ev) => {
        const k = (ev as KeyboardEvent).key;
        if (k === "Enter" || k === " ") {
          ev.preventDefault();
          activate();
        }
      });
    }
  }
}
