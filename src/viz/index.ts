export { escapeHtml, scriptJson } from "./html";
export { plotHtml, plotlyBundleHtml, chartBundle, withoutPlotlyJs, PLOTLY_MIME } from "./plotly";
export type { StaticImage } from "./plotly";
export type { Figure } from "./plotly";
export { tableHtml, toDataFrame } from "./table";
export type { Row } from "./table";
export { setupNotebook, backendHtml, plot, table, notebookProgress } from "./notebook";
export * as figures from "./figures/index";
