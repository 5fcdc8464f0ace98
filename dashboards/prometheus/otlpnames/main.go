// Command otlpnames prints the Prometheus names that the OpenTelemetry
// Collector's prometheus exporter (v0.159.0, default translation strategy
// UnderscoreEscapingWithSuffixes) derives from OTel metric names, units and
// attribute keys, using the same library and settings it does
// (github.com/prometheus/otlptranslator). tests/dashboards feeds it the
// telemetry contract and compares the answer with the Python translation in
// genesys_pulse.telemetry._backends.
//
// stdin:  {"metrics": [{"name": "...", "unit": "s", "type": "histogram|counter|gauge"}], "labels": ["..."]}
// stdout: {"metrics": {"<name>": "<prometheus name>"}, "labels": {"<key>": "<label>"}}
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/prometheus/otlptranslator"
)

type metric struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	Type string `json:"type"`
}

type request struct {
	Metrics []metric `json:"metrics"`
	Labels  []string `json:"labels"`
}

type response struct {
	Metrics map[string]string `json:"metrics"`
	Labels  map[string]string `json:"labels"`
}

var types = map[string]otlptranslator.MetricType{
	"histogram": otlptranslator.MetricTypeHistogram,
	"counter":   otlptranslator.MetricTypeMonotonicCounter,
	"gauge":     otlptranslator.MetricTypeGauge,
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "otlpnames: bad request:", err)
		os.Exit(2)
	}
	// As the exporter configures them (collector.go: configureMetricNamer,
	// configureLabelNamer) for UnderscoreEscapingWithSuffixes.
	metricNamer := otlptranslator.MetricNamer{WithMetricSuffixes: true, UTF8Allowed: false}
	labelNamer := otlptranslator.LabelNamer{UTF8Allowed: false}
	resp := response{Metrics: map[string]string{}, Labels: map[string]string{}}
	for _, m := range req.Metrics {
		t, ok := types[m.Type]
		if !ok {
			fmt.Fprintln(os.Stderr, "otlpnames: unknown metric type:", m.Type)
			os.Exit(2)
		}
		name, err := metricNamer.Build(otlptranslator.Metric{Name: m.Name, Unit: m.Unit, Type: t})
		if err != nil {
			fmt.Fprintln(os.Stderr, "otlpnames:", err)
			os.Exit(1)
		}
		resp.Metrics[m.Name] = name
	}
	for _, key := range req.Labels {
		label, err := labelNamer.Build(key)
		if err != nil {
			fmt.Fprintln(os.Stderr, "otlpnames:", err)
			os.Exit(1)
		}
		resp.Labels[key] = label
	}
	if err := json.NewEncoder(os.Stdout).Encode(resp); err != nil {
		fmt.Fprintln(os.Stderr, "otlpnames:", err)
		os.Exit(1)
	}
}
