export { escapeHtml, scriptJson } from "./html";
export { plotHtml, plotlyBundleHtml } from "./plotly";
export type { Figure, PlotSpec, Data, Layout, Config, PlotData } from "./plotly";
export { tableHtml, toDataFrame } from "./table";
export type { Row } from "./table";
export { setupNotebook, backendHtml, plot, table, notebookProgress } from "./notebook";
export * as figures from "./figures/index";
export { show, htmlOf, showLatent, showLatentsOn } from "./show";
export { latentCardHtml, latentsOnHtml, contextHtml, histogramSvg } from "./latent-card";
