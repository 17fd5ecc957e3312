// The diagnosis page: the period picker shows the fields its choice needs, and the daily trend
// is drawn with ECharts. Without this file the page still works: every field shows, and the
// daily figures are in the table under the chart.
(function () {
  "use strict";

  function pickerFields() {
    var range = document.getElementById("range");
    if (!range) return;
    var fields = document.querySelectorAll("[data-for-ranges]");
    function update() {
      fields.forEach(function (field) {
        var wanted = field.getAttribute("data-for-ranges").split(" ");
        var shown = wanted.indexOf(range.value) !== -1;
        field.hidden = !shown;
        field.querySelectorAll("input").forEach(function (input) { input.disabled = !shown; });
      });
    }
    range.addEventListener("change", update);
    update();
  }

  function formatter(unit, lang) {
    var locale = lang === "en" ? "en-US" : "zh-CN";
    return function (value) {
      if (value === null || value === undefined) return "—";
      if (unit === "rate" || unit === "ratio") return (value * 100).toFixed(1) + "%";
      if (unit === "seconds") return value.toLocaleString(locale, { maximumFractionDigits: 1 });
      if (unit === "money") return value.toLocaleString(locale, { maximumFractionDigits: 2 });
      return value.toLocaleString(locale);
    };
  }

  function trendChart() {
    var box = document.getElementById("trend-chart");
    var picker = document.getElementById("trend-metric");
    if (!box || !picker || typeof window.echarts === "undefined") return;
    var data = JSON.parse(box.getAttribute("data-trend"));
    var lang = box.getAttribute("data-lang");
    if (!data.series.length) return;
    box.classList.add("chart-ready");
    var chart = window.echarts.init(box, null, { renderer: "svg" });

    function draw() {
      var series = data.series.find(function (s) { return s.key === picker.value; }) || data.series[0];
      var format = formatter(series.unit, lang);
      var asBars = series.unit === "count" || series.unit === "money";
      chart.setOption({
        animation: false,
        color: ["#0f766e"],
        grid: { left: 56, right: 16, top: 24, bottom: 32 },
        tooltip: { trigger: "axis", valueFormatter: format },
        xAxis: { type: "category", data: data.days, axisLabel: { formatter: function (d) { return d.slice(5); } } },
        yAxis: {
          type: "value",
          min: 0,
          max: series.unit === "rate" ? 1 : null,
          axisLabel: { formatter: format },
        },
        series: [{
          name: series.name,
          type: asBars ? "bar" : "line",
          data: series.values,
          connectNulls: false,
          symbolSize: 6,
          barMaxWidth: 28,
        }],
      }, true);
      box.setAttribute("data-drawn", series.key);
    }

    picker.addEventListener("change", draw);
    window.addEventListener("resize", function () { chart.resize(); });
    draw();
  }

  function start() {
    pickerFields();
    trendChart();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
