// Public API of src/report/: the HTML training report, run comparison, and the demo.
export type { RunReport, ReportEpoch, ReportLossParts, ReportHistogram, ReportEvaluation } from './types.js';
export { collectRunReport, type CollectOptions } from './collect.js';
export { renderReportHtml, escapeHtml } from './html.js';
export { objectnessSplit, precisionEnvelope, renderSvg, lossCurves, learningRateCurve, mapCurve, objectnessSplitChart, ptHistogramChart, prCurves, type ObjectnessSplit } from './charts.js';
export { renderValidationGrid, type GridImage, type GridOptions } from './grid.js';
export { writeReport, writeComparison, reportCallback, REPORT_FILE } from './write.js';
export { runDemo, formatDemoSummary, defaultDemoMinutes, defaultDemoSize, type DemoOptions, type DemoResult } from './demo.js';
