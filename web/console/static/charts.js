/* Voucher Ledger console: charts drawn as inline SVG (no library, nothing from a CDN). */
"use strict";

(function (VL) {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = {
    unissued: "#cbd5e1", available: "#60a5fa", reserved: "#f59e0b", released: "#a3a3a3", used: "#16a34a",
    expired: "#94a3b8", clawed_back: "#dc2626", settled: "#7c3aed",
  };
  VL.COLORS = COLORS;

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, value);
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  VL.svg = svg;  // the printable notices draw their QR code with it (actions.js)

  function legend(series) {
    return VL.h("ul", { class: "legend" }, series.map(([key, label, value]) =>
      VL.h("li", {}, swatch(key), VL.h("span", {}, label), value === undefined ? null : VL.h("b", {}, value))));
  }

  function swatch(key) {
    const s = svg("svg", { width: 12, height: 12, viewBox: "0 0 12 12", "aria-hidden": "true" },
      svg("rect", { width: 12, height: 12, rx: 2, fill: COLORS[key] }));
    s.classList.add("swatch");
    return s;
  }

  /** A "nice" upper bound and step for an axis reaching max. */
  function niceScale(max, ticks) {
    if (max <= 0) return { top: ticks, step: 1 };
    const raw = max / ticks;
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
    return { top: step * ticks, step };
  }

  /**
   * Where the year's budget stands: one bar split into unissued, available, reserved, used,
   * expired and clawed back (they add up to the budget), and the settled part of what was used.
   */
  VL.charts = {
    states(container, year) {
      const parts = ["unissued", "available", "reserved", "used", "expired", "clawed_back"]
        .map((key) => [key, VL.fen(year[key])]);
      const total = parts.reduce((sum, [, fen]) => sum + fen, 0) || 1;
      const width = 1000;
      let x = 0;
      const bar = svg("svg", { viewBox: `0 0 ${width} 36`, class: "statebar", role: "img",
        "aria-label": VL.t("chart.states") });
      for (const [key, fen] of parts) {
        const w = (fen / total) * width;
        if (w > 0) {
          bar.append(svg("rect", { x, y: 0, width: w, height: 36, fill: COLORS[key] },
            svg("title", {}, VL.t("figure." + key) + " " + VL.fenToYuan(fen))));
        }
        x += w;
      }
      const settled = VL.fen(year.settled);
      const spent = VL.fen(year.used) + VL.fen(year.clawed_back);
      const settledBar = svg("svg", { viewBox: `0 0 ${width} 14`, class: "statebar thin", role: "img",
        "aria-label": VL.t("figure.settled") },
      svg("rect", { x: 0, y: 0, width, height: 14, fill: "#e2e8f0" }),
      svg("rect", { x: 0, y: 0, width: spent ? (settled / spent) * width : 0, height: 14, fill: COLORS.settled }));
      VL.clear(container).append(
        bar,
        legend(parts.map(([key, fen]) => [key, VL.t("figure." + key), VL.fenToYuan(fen)])),
        VL.h("div", { class: "sub" }, VL.t("chart.settled_of_used")),
        settledBar,
        legend([["settled", VL.t("figure.settled"), VL.yuan(year.settled)],
          ["used", VL.t("chart.used_and_clawed"), VL.fenToYuan(spent)]]));
    },

    /** Money moved per month: grouped bars, one colour per movement. */
    monthly(container, months) {
      const series = ["reserved", "used", "released", "expired", "clawed_back", "settled"];
      const values = months.map((m) => series.map((key) => VL.fen(m[key])));
      const max = Math.max(0, ...values.flat());
      const { top, step } = niceScale(max, 4);
      const width = 1000, height = 300, left = 64, right = 12, topPad = 12, bottom = 34;
      const plotW = width - left - right, plotH = height - topPad - bottom;
      const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "monthly", role: "img",
        "aria-label": VL.t("chart.monthly") });
      for (let v = 0; v <= top + 1e-9; v += step) {
        const y = topPad + plotH - (v / top) * plotH;
        chart.append(svg("line", { x1: left, x2: width - right, y1: y, y2: y, stroke: "#e2e8f0" }),
          svg("text", { x: left - 8, y: y + 4, "text-anchor": "end", class: "axis" }, VL.compactFen(v)));
      }
      const slot = plotW / months.length;
      const barW = Math.max(2, (slot * 0.8) / series.length);
      months.forEach((month, i) => {
        const x0 = left + i * slot + slot * 0.1;
        values[i].forEach((fen, s) => {
          if (!fen) return;
          const h = (fen / top) * plotH;
          chart.append(svg("rect", { x: x0 + s * barW, y: topPad + plotH - h, width: barW - 1, height: h,
            fill: COLORS[series[s]], "data-month": month.month, "data-series": series[s] },
          svg("title", {}, `${month.month} ${VL.t("move." + series[s])} ${VL.fenToYuan(fen)}`)));
        });
        const label = VL.lang === "zh" ? Number(month.month.slice(5)) + "月" : month.month.slice(5);
        const wrapped = month.month.slice(0, 4) !== String(months[0].month).slice(0, 4);
        chart.append(svg("text", { x: left + i * slot + slot / 2, y: height - 12, "text-anchor": "middle",
          class: "axis" }, wrapped ? month.month : label));
      });
      chart.append(svg("line", { x1: left, x2: width - right, y1: topPad + plotH, y2: topPad + plotH, stroke: "#94a3b8" }));
      const totals = series.map((key, s) => values.reduce((sum, row) => sum + row[s], 0));
      VL.clear(container).append(chart,
        legend(series.map((key, s) => [key, VL.t("move." + key), VL.fenToYuan(totals[s])])));
    },

    /** A provider's year against its cap: a half-circle gauge of reserved + used over cap + exceptions. */
    gauge(container, totals) {
      const limit = VL.fen(totals.cap) + VL.fen(totals.exceptions);
      const used = VL.fen(totals.used), reserved = VL.fen(totals.reserved);
      const ratio = limit ? Math.min(1, (used + reserved) / limit) : 0;
      const usedRatio = limit ? Math.min(1, used / limit) : 0;
      const cx = 150, cy = 150, r = 120;
      const point = (f) => [cx - r * Math.cos(Math.PI * f), cy - r * Math.sin(Math.PI * f)];
      const arc = (from, to, color, width) => {
        if (to <= from) return null;
        const [x1, y1] = point(from), [x2, y2] = point(to);
        return svg("path", { d: `M ${x1} ${y1} A ${r} ${r} 0 0 1 ${x2} ${y2}`, fill: "none", stroke: color,
          "stroke-width": width, "stroke-linecap": "butt" });
      };
      const percent = limit ? Math.round(((used + reserved) / limit) * 1000) / 10 : 0;
      const g = svg("svg", { viewBox: "0 0 300 175", class: "gauge", role: "img", "aria-label": VL.t("provider.cap_gauge") },
        arc(0, 1, "#e2e8f0", 26), arc(0, usedRatio, COLORS.used, 26), arc(usedRatio, ratio, COLORS.reserved, 26),
        svg("text", { x: cx, y: cy - 22, "text-anchor": "middle", class: "gauge-value" }, percent + "%"),
        svg("text", { x: cx, y: cy + 2, "text-anchor": "middle", class: "axis" }, VL.t("provider.of_cap")));
      VL.clear(container).append(g, legend([
        ["used", VL.t("figure.used"), VL.yuan(totals.used)],
        ["reserved", VL.t("figure.reserved"), VL.yuan(totals.reserved)],
        ["unissued", VL.t("figure.remaining_cap"), VL.yuan(totals.remaining_cap)],
      ]));
    },
  };
})(window.VL);
