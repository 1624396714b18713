// Package report turns the results of a benchmark run (bench/load.Result)
// into bench/results/<date>/: report.md with the summary table, the targets
// of the benchmark issue checked against the numbers, per-scenario tables,
// SVG charts drawn by BarChart, and the raw JSON the report was made from.
package report
