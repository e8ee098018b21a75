// The Dashboard's charts (plotly, served by the console itself) and its live counters (server-sent
// events). The data comes from the page's <script type="application/json"> block: no inline script.
(function () {
  "use strict";

  function charts() {
    var block = document.getElementById("dados-graficos");
    if (!block || !window.Plotly) { return; }
    var data = JSON.parse(block.textContent);
    var layout = { margin: { t: 10, r: 10, b: 40, l: 40 }, height: 280, legend: { orientation: "h" },
                   font: { family: "system-ui, sans-serif", size: 12 } };
    var config = { displaylogo: false, responsive: true, locale: "pt-BR" };
    Plotly.newPlot("grafico-dias", [
      { type: "bar", name: "Abertas", x: data.daily.days, y: data.daily.opened, marker: { color: "#0b5cad" } },
      { type: "bar", name: "Concluídas", x: data.daily.days, y: data.daily.completed, marker: { color: "#116329" } }
    ], Object.assign({}, layout, { barmode: "group" }), config);
    Plotly.newPlot("grafico-tecnicos", [
      { type: "bar", orientation: "h", x: data.technicians.utilisation, y: data.technicians.names,
        marker: { color: "#0b5cad" } }
    ], Object.assign({}, layout, { height: Math.max(200, 24 * data.technicians.names.length + 60),
                                   margin: { t: 10, r: 10, b: 40, l: 160 } }), config);
    var statuses = Object.keys(data.notifications.by_status);
    Plotly.newPlot("grafico-notificacoes", statuses.map(function (status) {
      return { type: "bar", name: status, x: data.notifications.channels,
               y: data.notifications.channels.map(function (c) { return data.notifications.by_status[status][c] || 0; }) };
    }), Object.assign({}, layout, { barmode: "stack" }), config);
  }

  function live() {
    var box = document.getElementById("ao-vivo");
    if (!box || !window.EventSource) { return; }
    var source = new EventSource(box.getAttribute("data-stream"));
    source.addEventListener("counters", function (event) {
      var counters = JSON.parse(event.data);
      document.querySelectorAll("[data-counter]").forEach(function (element) {
        var key = element.getAttribute("data-counter");
        if (key in counters) {
          var value = counters[key];
          element.textContent = typeof value === "number" ? value.toLocaleString("pt-BR") : String(value);
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { charts(); live(); });
}());
