// Downstream cross-entropy (paper §3.9, v1 Figure 9): the share of the SAE's CE increase that splicing in each error
// component recovers, next to that component's share of the error (R² percent recovered, norm fraction), over a
// width or L0 sweep of `downstreamCe` results.
import type { DownstreamCeResult } from "../../darkmatter/downstream-ce";
import type { Figure } from "../plotly";
import type { Row } from "../table";
import { axis, axisNames, COMPONENT_COLORS, figure, FigureOptions, full, hoverSafe, Labelled, layout, num, panelDomains, panelTitle, short, Trace } from "./common";

/** What the CE views read (a full `DownstreamCeResult` fits). */
export type CeSummary = Pick<DownstreamCeResult, "clean" | "sae" | "saePlusLinear" | "saePlusNonlinear" | "zeroAblation" | "errorCeRecovered" | "errorShares" | "evaluatedTokens">;

/** One panel: SAEs along a sweep, each labelled with its tick (e.g. "16k", or "68" for an L0). */
export interface CeSweep {
  /** Panel title, e.g. "Width sweep (L0 ≈ 60)". */
  title: string;
  /** x-axis title, e.g. "SAE width" or "L0". */
  xTitle: string;
  points: Labelled<CeSummary>[];
}

const COMPONENTS = [
  { key: "linear" as const, run: "saePlusLinear" as const, name: "Sae(x) + LinearError(x)", color: COMPONENT_COLORS.linearError, offset: -0.2 },
  { key: "nonlinear" as const, run: "saePlusNonlinear" as const, name: "Sae(x) + NonlinearError(x)", color: COMPONENT_COLORS.nonlinearError, offset: 0.2 },
];
const BAR_WIDTH = 0.38;

/** A dashed horizontal segment over each bar (null-separated), for a reference share drawn in percent. */
function segments(name: string, sweep: CeSweep, pick: (r: CeSummary) => { linear: number; nonlinear: number }, color: string, ax: { x: string; y: string }, showlegend: boolean): Trace {
  const x: (number | null)[] = [], y: (number | null)[] = [], hover: string[] = [];
  sweep.points.forEach((p, i) => {
    const v = pick(p.result);
    for (const c of COMPONENTS) {
      const value = num(100 * v[c.key]);
      x.push(i + c.offset - BAR_WIDTH / 2, i + c.offset + BAR_WIDTH / 2, null);
      y.push(value, value, null);
      const text = `${hoverSafe(p.label)}, ${c.name}<br>${name}: ${full(100 * v[c.key])} %`;
      hover.push(text, text, "");
    }
  });
  return {
    type: "scatter", mode: "lines", name, legendgroup: name, showlegend, x, y, xaxis: ax.x, yaxis: ax.y,
    line: { color, dash: "dash", width: 2 }, text: hover, hovertemplate: "%{text}<extra></extra>", connectgaps: false,
  };
}

/**
 * One panel per sweep: bars of the CE recovered (% of the SAE's CE increase, (CE_sae − CE_sae+comp)/(CE_sae − CE_clean))
 * for Sae(x) + LinearError and Sae(x) + NonlinearError with values printed; dashed red segments over each bar for the
 * R² percent recovered and dashed blue ones for ‖component‖/‖SaeError‖ (the paper's reference lines).
 */
export function ceRecoveredFigure(sweeps: readonly CeSweep[], options: FigureOptions = {}): Figure {
  const domains = panelDomains(sweeps.length, 0.08);
  const data: Trace[] = [];
  const lay: Record<string, unknown> = {};
  sweeps.forEach((sweep, p) => {
    const ax = axisNames(p);
    for (const c of COMPONENTS) {
      const ys = sweep.points.map((pt) => num(100 * pt.result.errorCeRecovered[c.key]));
      data.push({
        type: "bar", name: `CE recovered: ${c.name}`, legendgroup: c.name, showlegend: p === 0,
        x: sweep.points.map((_, i) => i + c.offset), y: ys, width: BAR_WIDTH, xaxis: ax.x, yaxis: ax.y,
        marker: { color: c.color }, text: ys.map((v) => short(v)), textposition: "outside", cliponaxis: false,
        customdata: sweep.points.map((pt) => [hoverSafe(pt.label), full(100 * pt.result.errorCeRecovered[c.key]), full(pt.result[c.run].ce), full(pt.result.sae.ce), full(pt.result.clean)]),
        hovertemplate: `%{customdata[0]}<br>CE recovered by ${c.name}: %{customdata[1]} %<br>CE spliced %{customdata[2]}, Sae(x) %{customdata[3]}, clean %{customdata[4]}<extra></extra>`,
      });
    }
    data.push(segments("R² percent recovered", sweep, (r) => r.errorShares.r2Recovered, "#d62728", ax, p === 0));
    data.push(segments("Norm / total SAE error norm", sweep, (r) => r.errorShares.norm, "#1f77b4", ax, p === 0));
    lay[ax.xKey] = axis(sweep.xTitle, {
      domain: domains[p], anchor: ax.y, tickmode: "array", tickvals: sweep.points.map((_, i) => i), ticktext: sweep.points.map((pt) => pt.label),
      range: [-0.6, sweep.points.length - 0.4],
    });
    lay[ax.yKey] = axis(p === 0 ? "percent of the SAE's CE increase / of the error (%)" : "", { anchor: ax.x, rangemode: "tozero" });
  });
  return figure(data, layout(options.title ?? "Downstream CE loss recovered by each error component", options.height ?? 440, {
    ...lay, barmode: "overlay",
    annotations: sweeps.map((s, p) => panelTitle(s.title, domains[p])),
    legend: { orientation: "h", x: 0, y: -0.22 },
  }));
}

/**
 * One row per SAE and component: the paper's bar (percent of the SAE's CE gap recovered), its reference shares
 * (percent R² recovered, norm and energy fractions), and the spliced run's CE, `ce_delta` and `ce_recovered`
 * (zero-ablation based, formats-and-metrics §3).
 */
export function ceRows(sweeps: readonly CeSweep[]): Row[] {
  const rows: Row[] = [];
  for (const s of sweeps) {
    for (const { label, result: r } of s.points) {
      for (const c of COMPONENTS) {
        rows.push({
          sweep: s.title, sae: label, component: c.name,
          sae_gap_recovered_percent: num(100 * r.errorCeRecovered[c.key]),
          r2_percent_recovered: num(100 * r.errorShares.r2Recovered[c.key]),
          norm_fraction: num(r.errorShares.norm[c.key]), energy_fraction: num(r.errorShares.energy[c.key]),
          ce_clean: num(r.clean), ce_sae: num(r.sae.ce), ce_spliced: num(r[c.run].ce),
          ce_delta: num(r[c.run].ceDelta), ce_recovered: num(r[c.run].ceRecovered), tokens: r.evaluatedTokens,
        });
      }
    }
  }
  return rows;
}
