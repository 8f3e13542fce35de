// downhill explore: the page. Every number drawn here was computed by the engine (the surface
// kernel and the optimizers' fused updates) and sent by the server, or embedded by --export
// (window.EXPLORE_DATA); this file only draws and animates.
"use strict";
(() => {
  const DATA = window.EXPLORE_DATA || null;
  const $ = (id) => document.getElementById(id);
  const SIZE = 640;
  const CONTOURS = 14; // as src/explore/colour.rs
  const BASIN_COLOURS = ["#e63946", "#ffd166", "#06d6a0", "#118ab2", "#ff9f1c", "#b5179e"];
  const OTHER_COLOUR = "#8d99ae";
  const DIVERGED_COLOUR = "#111111";

  const S = {
    info: null, surface: null, grid: null, scale: null,
    racers: [], runs: new Map(), iter: 0, playing: false, start: [0, 0],
    basin: null, view: "surface", pending: null, generation: 0,
  };

  // ---- numbers ----------------------------------------------------------------------------

  function decodeBytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  const decodeF32 = (b64) => new Float32Array(decodeBytes(b64).buffer);

  // The colour scale of src/explore/colour.rs: viridis over f − floor, log when wide.
  class Scale {
    constructor(values, floor) {
      const sorted = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
      this.lo = Math.min(floor, sorted.length ? sorted[0] : 0);
      const hi = sorted.length ? sorted[sorted.length - 1] : 1;
      const median = sorted.length ? sorted[sorted.length >> 1] : hi;
      this.span = Math.max(hi - this.lo, 1e-12);
      this.log = this.span > 5 * Math.max(median - this.lo, 1e-12);
      this.delta = this.span * 1e-4;
    }
    t(f) {
      const shift = Math.max(f - this.lo, 0);
      const t = this.log ? Math.log1p(shift / this.delta) / Math.log1p(this.span / this.delta) : shift / this.span;
      return Math.min(Math.max(t, 0), 1);
    }
    value(t) {
      return this.log ? this.lo + this.delta * Math.expm1(t * Math.log1p(this.span / this.delta)) : this.lo + t * this.span;
    }
  }
  const VIRIDIS = [[68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37]];
  function viridis(t) {
    const x = Math.min(Math.max(t, 0), 1) * (VIRIDIS.length - 1);
    const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
    const w = x - i;
    return VIRIDIS[i].map((c, k) => Math.round(c * (1 - w) + VIRIDIS[i + 1][k] * w));
  }
  const fmt = (v) => (v === undefined || v === null || !Number.isFinite(v)) ? "–"
    : (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)) ? v.toExponential(2) : v.toFixed(4);
  const fmtLr = (lr) => lr >= 0.01 ? lr.toPrecision(2) : lr.toExponential(1);

  // ---- geometry ---------------------------------------------------------------------------

  function toPx(x, y) {
    const [[x0, x1], [y0, y1]] = S.surface.region;
    return [(x - x0) / (x1 - x0) * SIZE, (y1 - y) / (y1 - y0) * SIZE];
  }
  function fromPx(px, py) {
    const [[x0, x1], [y0, y1]] = S.surface.region;
    return [x0 + px / SIZE * (x1 - x0), y1 - py / SIZE * (y1 - y0)];
  }

  function setupCanvas(canvas, w, h) {
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
  }

  // ---- server or embedded data --------------------------------------------------------------

  async function api(path, body) {
    const r = await fetch(path, body === undefined ? {} : {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) throw new Error(answer.error || `HTTP ${r.status}`);
    return answer;
  }
  const showError = (e) => { $("error").textContent = e ? String(e.message || e) : ""; };

  function surfaceRequest() {
    const req = { name: S.surface.name };
    if (S.surface.conditioned) {
      req.condition = Math.round(Math.pow(10, +$("kappa").value) * 100) / 100;
      req.rotation = +$("theta").value;
    }
    return req;
  }

  function scheduleRequest(steps) {
    switch ($("schedule").value) {
      case "step": return { kind: "step", step_size: Math.max(1, Math.floor(steps / 3)), gamma: 0.5 };
      case "cosine": return { kind: "cosine" };
      case "warmup": return { kind: "warmup", warmup_steps: Math.max(1, Math.floor(steps / 10)) };
      default: return { kind: "constant" };
    }
  }

  async function loadSurface() {
    if (DATA) {
      S.grid = { n: DATA.grid.resolution, values: decodeF32(DATA.grid.values), floor: DATA.grid.floor };
    } else {
      const g = await api("/api/surface", { surface: surfaceRequest(), resolution: 256 });
      S.grid = { n: g.resolution, values: decodeF32(g.values), floor: g.floor };
    }
    S.scale = new Scale(S.grid.values, S.grid.floor);
    S.heat = null;
    drawColourBar();
  }

  async function recompute() {
    const generation = ++S.generation;
    const steps = stepsWanted();
    const enabled = S.racers.filter((r) => r.enabled);
    if (DATA) {
      S.runs = new Map(enabled.map((r) => [r.preset.key, DATA.runs.find((x) => x.preset.key === r.preset.key).trajectories[r.lrIndex]]));
    } else if (enabled.length) {
      const answer = await api("/api/race", {
        surface: surfaceRequest(), start: S.start, steps, schedule: scheduleRequest(steps),
        runs: enabled.map((r) => ({ label: r.preset.key, optimizer: optimizerRequest(r) })),
      });
      if (generation !== S.generation) return; // a newer request superseded this one
      S.runs = new Map(answer.runs.map((run) => [run.label, run]));
    } else {
      S.runs = new Map();
    }
    S.iter = 0;
    setPlaying(false);
    document.body.dataset.start = S.start.map((v) => v.toFixed(4)).join(",");
    document.body.dataset.computed = String(generation); // how many recomputations have landed
    document.body.dataset.playback = "ready";
    showError(null);
    render();
  }

  // Coalesces bursts of changes (a dragged slider) into one request.
  function debounce(what) {
    clearTimeout(S.pending);
    S.pending = setTimeout(() => what().catch(showError), 120);
  }

  const stepsWanted = () => DATA ? DATA.steps : Math.max(1, Math.min(20000, Math.floor(+$("steps").value || 1)));
  const lastIter = () => stepsWanted();

  function optimizerRequest(r) {
    const o = { name: r.preset.optimizer.name, lr: r.lr };
    for (const [k, v] of Object.entries(r.extra)) {
      if (k === "nesterov") { if (v) o.nesterov = true; } else if (v !== "" && v !== null && v !== undefined) o[k] = +v;
    }
    return o;
  }

  // ---- drawing ----------------------------------------------------------------------------

  function heatImage() {
    if (S.heat) return S.heat;
    const { n, values } = S.grid;
    const off = document.createElement("canvas");
    off.width = n; off.height = n;
    const ctx = off.getContext("2d");
    const img = ctx.createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      const [r, g, b] = viridis(S.scale.t(values[i]));
      img.data.set([r, g, b, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    S.heat = off;
    return off;
  }

  // Marching squares over the grid at CONTOURS even steps of the colour scale.
  function drawContours(ctx) {
    const { n, values } = S.grid;
    const t = new Float32Array(n * n);
    for (let i = 0; i < n * n; i++) t[i] = S.scale.t(values[i]) * CONTOURS;
    const cell = SIZE / n;
    ctx.beginPath();
    for (let level = 1; level < CONTOURS; level++) {
      for (let r = 0; r + 1 < n; r++) {
        for (let c = 0; c + 1 < n; c++) {
          const a = t[r * n + c], b = t[r * n + c + 1], d = t[(r + 1) * n + c], e = t[(r + 1) * n + c + 1];
          const pts = [];
          const edge = (v0, v1, x0, y0, x1, y1) => {
            if ((v0 < level) !== (v1 < level)) {
              const w = (level - v0) / (v1 - v0);
              pts.push([(x0 + w * (x1 - x0) + 0.5) * cell, (y0 + w * (y1 - y0) + 0.5) * cell]);
            }
          };
          edge(a, b, c, r, c + 1, r);
          edge(b, e, c + 1, r, c + 1, r + 1);
          edge(d, e, c, r + 1, c + 1, r + 1);
          edge(a, d, c, r, c, r + 1);
          for (let k = 0; k + 1 < pts.length; k += 2) {
            ctx.moveTo(pts[k][0], pts[k][1]);
            ctx.lineTo(pts[k + 1][0], pts[k + 1][1]);
          }
        }
      }
    }
    ctx.strokeStyle = "rgba(0,0,0,0.35)";
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  function basinImage() {
    const b = S.basin;
    if (b.image && b.image.mode === $("basin-colour").value) return b.image.canvas;
    const n = b.grid;
    const off = document.createElement("canvas");
    off.width = n; off.height = n;
    const ctx = off.getContext("2d");
    const img = ctx.createImageData(n, n);
    const byLoss = $("basin-colour").value === "loss";
    const scale = byLoss ? new Scale(b.loss.filter(Number.isFinite), S.grid.floor) : null;
    const hex = (h) => [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16));
    for (let i = 0; i < n * n; i++) {
      const c = b.classes[i];
      let rgb;
      if (c === 255) rgb = hex(DIVERGED_COLOUR);
      else if (byLoss) rgb = viridis(scale.t(b.loss[i]));
      else rgb = hex(c === 254 ? OTHER_COLOUR : BASIN_COLOURS[c % BASIN_COLOURS.length]);
      img.data.set([...rgb, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    b.image = { mode: $("basin-colour").value, canvas: off };
    return off;
  }

  function drawMarkers(ctx) {
    for (const m of S.surface.markers) {
      const [px, py] = toPx(m.at[0], m.at[1]);
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "#fff";
      ctx.beginPath();
      if (m.kind === "global") {
        ctx.moveTo(px - 7, py - 7); ctx.lineTo(px + 7, py + 7); ctx.moveTo(px + 7, py - 7); ctx.lineTo(px - 7, py + 7);
      } else if (m.kind === "local") {
        ctx.arc(px, py, 6, 0, 2 * Math.PI);
      } else {
        ctx.moveTo(px, py - 8); ctx.lineTo(px + 7, py + 5); ctx.lineTo(px - 7, py + 5); ctx.closePath();
      }
      ctx.stroke();
    }
  }

  function drawRuns(ctx) {
    const [sx, sy] = toPx(S.start[0], S.start[1]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#000";
    ctx.beginPath(); ctx.arc(sx, sy, 5, 0, 2 * Math.PI); ctx.stroke();
    for (const r of S.racers) {
      const run = r.enabled && S.runs.get(r.preset.key);
      if (!run || !run.points.length) continue;
      const shown = Math.min(S.iter, run.points.length - 1);
      ctx.strokeStyle = r.preset.colour;
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      for (let k = 0; k <= shown; k++) {
        const [px, py] = toPx(run.points[k][0], run.points[k][1]);
        if (k === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
      }
      ctx.stroke();
      let [bx, by] = toPx(run.points[shown][0], run.points[shown][1]);
      if (run.diverged_at !== null && S.iter >= run.diverged_at) {
        // The last finite point may lie far outside: the cross stays on the edge it left by.
        bx = Math.min(Math.max(bx, 10), SIZE - 10);
        by = Math.min(Math.max(by, 10), SIZE - 10);
        // Diverged: a cross where it was last finite, not a ball that seems to rest there.
        ctx.strokeStyle = "#c1121f"; ctx.lineWidth = 4;
        ctx.beginPath(); ctx.moveTo(bx - 9, by - 9); ctx.lineTo(bx + 9, by + 9); ctx.moveTo(bx + 9, by - 9); ctx.lineTo(bx - 9, by + 9); ctx.stroke();
        ctx.strokeStyle = r.preset.colour; ctx.lineWidth = 2;
        ctx.beginPath(); ctx.moveTo(bx - 9, by - 9); ctx.lineTo(bx + 9, by + 9); ctx.moveTo(bx + 9, by - 9); ctx.lineTo(bx - 9, by + 9); ctx.stroke();
      } else {
        ctx.fillStyle = r.preset.colour;
        ctx.beginPath(); ctx.arc(bx, by, 7, 0, 2 * Math.PI); ctx.fill();
        ctx.lineWidth = 1.5; ctx.strokeStyle = "#000"; ctx.stroke();
      }
    }
  }

  function drawPlot() {
    const ctx = setupCanvas($("plot"), SIZE, SIZE);
    ctx.imageSmoothingEnabled = true;
    if (S.view === "basin" && S.basin) {
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(basinImage(), 0, 0, SIZE, SIZE);
    } else {
      ctx.drawImage(heatImage(), 0, 0, SIZE, SIZE);
      drawContours(ctx);
    }
    drawMarkers(ctx);
    drawRuns(ctx);
  }

  function drawColourBar() {
    const h = SIZE;
    const ctx = setupCanvas($("colourbar"), 90, h);
    ctx.clearRect(0, 0, 90, h);
    const top = 24, bottom = h - 10, x = 4, w = 18;
    for (let y = top; y < bottom; y++) {
      const t = 1 - (y - top) / (bottom - top);
      const [r, g, b] = viridis(t);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(x, y, w, 1);
    }
    ctx.fillStyle = "#1d1d24";
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(S.scale.log ? "f (log)" : "f", 2, 12);
    for (let k = 0; k <= 6; k++) {
      const t = k / 6;
      const y = bottom - t * (bottom - top);
      ctx.fillRect(x + w, y, 4, 1);
      ctx.fillText(fmt(S.scale.value(t)), x + w + 6, y + 4);
    }
  }

  // Loss against iteration, log y of f − f* (f* = the lowest known value).
  function drawLossPlot() {
    const W = 730, H = 220, L = 58, R = 10, T = 10, B = 28;
    const ctx = setupCanvas($("lossplot"), W, H);
    ctx.clearRect(0, 0, W, H);
    const floor = S.grid.floor;
    // Below f32's resolution at f* the difference is rounding noise, not progress.
    const resolution = Math.max(1e-16, 2.4e-7 * Math.abs(floor));
    const series = [];
    let lo = Infinity, hi = -Infinity;
    for (const r of S.racers) {
      const run = r.enabled && S.runs.get(r.preset.key);
      if (!run) continue;
      const ys = run.losses.map((f) => Math.log10(Math.max(f - floor, resolution)));
      for (const y of ys) { lo = Math.min(lo, y); hi = Math.max(hi, y); }
      series.push([r, ys]);
    }
    ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
    ctx.strokeRect(L, T, W - L - R, H - T - B);
    ctx.fillStyle = "#1d1d24"; ctx.font = "11px system-ui, sans-serif";
    ctx.fillText("iteration", W / 2 - 20, H - 4);
    ctx.save(); ctx.translate(10, H / 2 + 30); ctx.rotate(-Math.PI / 2); ctx.fillText("f − f* (log)", 0, 0); ctx.restore();
    if (!series.length) return;
    lo = Math.floor(lo); hi = Math.ceil(hi); if (hi <= lo) hi = lo + 1;
    const steps = lastIter();
    const X = (k) => L + k / Math.max(steps, 1) * (W - L - R);
    const Y = (y) => T + (hi - y) / (hi - lo) * (H - T - B);
    const every = Math.max(1, Math.ceil((hi - lo) / 6));
    for (let e = lo; e <= hi; e += every) {
      ctx.fillText(`1e${e}`, 18, Y(e) + 4);
      ctx.fillStyle = "#eee"; ctx.fillRect(L + 1, Y(e), W - L - R - 2, 1); ctx.fillStyle = "#1d1d24";
    }
    // First tick left-aligned, middle centred, last right-aligned: each stays inside the
    // canvas whatever its width (the last one's right edge is kept for the page's test).
    [[0, "left"], [Math.round(steps / 2), "center"], [steps, "right"]].forEach(([k, align]) => {
      ctx.textAlign = align;
      ctx.fillText(String(k), X(k), H - B + 14);
    });
    ctx.textAlign = "left";
    $("lossplot").dataset.lastTickRight = String(X(steps));
    for (const [r, ys] of series) {
      ctx.strokeStyle = r.preset.colour;
      ctx.lineWidth = 1.8;
      ctx.beginPath();
      const shown = Math.min(S.iter, ys.length - 1);
      for (let k = 0; k <= shown; k++) { if (k === 0) ctx.moveTo(X(k), Y(ys[k])); else ctx.lineTo(X(k), Y(ys[k])); }
      ctx.stroke();
    }
  }

  function updateTable() {
    for (const r of S.racers) {
      const run = r.enabled && S.runs.get(r.preset.key);
      const c = r.cells;
      if (!run || !run.points.length) { c.iter.textContent = c.loss.textContent = c.pos.textContent = c.grad.textContent = "–"; continue; }
      const k = Math.min(S.iter, run.points.length - 1);
      const diverged = run.diverged_at !== null && S.iter >= run.diverged_at;
      c.iter.textContent = diverged ? `diverged at ${run.diverged_at}` : String(k);
      c.iter.className = diverged ? "diverged" : "";
      c.loss.textContent = fmt(run.losses[k]);
      c.pos.textContent = `(${fmt(run.points[k][0])}, ${fmt(run.points[k][1])})`;
      c.grad.textContent = fmt(run.grad_norms[k]);
    }
    $("iteration").textContent = `iteration ${Math.min(S.iter, lastIter())} of ${lastIter()}`;
  }

  function drawLegend() {
    const parts = S.racers.filter((r) => r.enabled).map((r) => {
      const run = S.runs.get(r.preset.key);
      const tail = run && run.diverged_at !== null ? " (diverges)" : "";
      return `<span><i style="background:${r.preset.colour}"></i>${r.preset.label} lr ${fmtLr(r.lr)}${tail}</span>`;
    });
    if (S.view === "basin" && S.basin) {
      const b = S.basin;
      b.minima.forEach((m, i) => parts.push(`<span><i style="background:${BASIN_COLOURS[i % BASIN_COLOURS.length]}"></i>${m.kind} (${fmt(m.at[0])}, ${fmt(m.at[1])}): ${b.counts[i]}</span>`));
      parts.push(`<span><i style="background:${OTHER_COLOUR}"></i>elsewhere: ${b.counts[b.minima.length]}</span>`);
      parts.push(`<span><i style="background:${DIVERGED_COLOUR}"></i>diverged: ${b.counts[b.minima.length + 1]}</span>`);
    }
    $("legend").innerHTML = parts.join("");
  }

  function render() {
    if (!S.grid) return;
    // Classes have their legend; the colour bar is the surface's (or the final loss's) scale.
    $("colourbar").style.visibility = S.view === "basin" && $("basin-colour").value === "minimum" ? "hidden" : "visible";
    drawPlot();
    drawLossPlot();
    updateTable();
    drawLegend();
  }

  // ---- playback ---------------------------------------------------------------------------

  function setPlaying(on) {
    S.playing = on;
    $("play").textContent = on ? "❚❚ pause" : "▶ play";
    if (on) document.body.dataset.playback = "playing";
  }

  function tick() {
    if (S.playing) {
      S.iter = Math.min(S.iter + (+$("speed").value), lastIter());
      if (S.iter >= lastIter()) { setPlaying(false); document.body.dataset.playback = "done"; }
      render();
    }
    requestAnimationFrame(tick);
  }

  // ---- controls ---------------------------------------------------------------------------

  function buildRacers(keys) {
    const tbody = $("racers").querySelector("tbody");
    tbody.innerHTML = "";
    const presets = DATA ? DATA.runs.map((r) => r.preset) : S.info.presets;
    const takes = (name) => (S.info.optimizers.find((o) => o.name === name) || { takes: [] }).takes;
    S.racers = presets.map((p) => {
      const r = { preset: p, enabled: keys.includes(p.key), lr: p.optimizer.lr, extra: {}, lrIndex: 0 };
      const tr = document.createElement("tr");
      const cell = () => tr.appendChild(document.createElement("td"));
      const box = document.createElement("input");
      box.type = "checkbox"; box.checked = r.enabled; box.id = `use-${p.key}`;
      box.onchange = () => { r.enabled = box.checked; debounce(recompute); };
      cell().appendChild(box);
      const name = cell();
      name.innerHTML = `<span class="swatch" style="background:${p.colour}"></span>${p.label}`;
      if (!DATA) {
        const details = document.createElement("details");
        details.innerHTML = "<summary>settings</summary>";
        const o = p.optimizer;
        for (const k of takes(o.name).filter((k) => k !== "lr")) {
          const label = document.createElement("label");
          const input = document.createElement("input");
          if (k === "nesterov") { input.type = "checkbox"; input.checked = !!o.nesterov; r.extra.nesterov = !!o.nesterov; }
          else { input.type = "number"; input.step = "any"; input.placeholder = "default"; if (o[k] !== undefined && o[k] !== null) input.value = o[k]; r.extra[k] = input.value; }
          input.onchange = () => { r.extra[k] = k === "nesterov" ? input.checked : input.value; debounce(recompute); };
          label.append(k, input);
          details.appendChild(label);
        }
        name.appendChild(details);
      }
      const lrCell = cell();
      const slider = document.createElement("input");
      slider.type = "range"; slider.id = `lr-${p.key}`;
      const lrText = document.createElement("span");
      lrText.className = "lr";
      if (DATA) {
        // The slider picks among the precomputed rates.
        const grid = DATA.lrs;
        r.lrIndex = grid.reduce((best, lr, i) => Math.abs(Math.log(lr / r.lr)) < Math.abs(Math.log(grid[best] / r.lr)) ? i : best, 0);
        r.lr = grid[r.lrIndex];
        slider.min = 0; slider.max = grid.length - 1; slider.step = 1; slider.value = r.lrIndex;
        slider.oninput = () => { r.lrIndex = +slider.value; r.lr = grid[r.lrIndex]; lrText.textContent = fmtLr(r.lr); debounce(recompute); };
      } else {
        slider.min = -4; slider.max = 0; slider.step = 0.05; slider.value = Math.log10(r.lr);
        slider.oninput = () => { r.lr = Math.pow(10, +slider.value); lrText.textContent = fmtLr(r.lr); debounce(recompute); };
      }
      lrText.textContent = fmtLr(r.lr);
      lrCell.append(slider, lrText);
      r.cells = { iter: cell(), loss: cell(), pos: cell(), grad: cell() };
      tbody.appendChild(tr);
      return r;
    });
    $("basin-opt").innerHTML = S.racers.map((r) => `<option value="${r.preset.key}">${r.preset.label}</option>`).join("");
  }

  function selectSurface(name, start) {
    S.surface = S.info.surfaces.find((s) => s.name === name) || S.info.surfaces[0];
    $("surface").value = S.surface.name;
    $("formula").textContent = `f = ${S.surface.formula}`;
    $("bowl-controls").style.display = S.surface.conditioned ? "" : "none";
    S.start = start || S.surface.start.slice();
    S.basin = null; S.view = "surface";
    $("basin-status").textContent = "";
  }

  async function runBasin() {
    const r = S.racers.find((x) => x.preset.key === $("basin-opt").value);
    const steps = Math.max(1, Math.floor(+$("basin-k").value || 1));
    const grid = +$("basin-n").value;
    $("basin-status").textContent = `running ${grid}×${grid} starts × ${steps} steps…`;
    const b = await api("/api/basin", {
      surface: surfaceRequest(), optimizer: optimizerRequest(r), grid, steps, schedule: scheduleRequest(steps),
    });
    S.basin = { ...b, classes: decodeBytes(b.classes), loss: decodeF32(b.final_loss) };
    S.view = "basin";
    $("basin-status").textContent =
      `${r.preset.label} lr ${fmtLr(r.lr)}: ${grid * grid} starts × ${steps} steps in ${b.seconds.toFixed(3)} s on ${S.info.device}: ` +
      `${(b.throughput / 1e6).toFixed(1)} M start-steps/s`;
    render();
  }

  function wire() {
    $("plot").addEventListener("click", (ev) => {
      if (DATA) return;
      const rect = ev.target.getBoundingClientRect();
      S.start = fromPx(ev.clientX - rect.left, ev.clientY - rect.top);
      debounce(recompute);
    });
    $("plot").addEventListener("mousemove", (ev) => {
      if (!S.grid) return;
      const rect = ev.target.getBoundingClientRect();
      const [x, y] = fromPx(ev.clientX - rect.left, ev.clientY - rect.top);
      const n = S.grid.n;
      const col = Math.min(n - 1, Math.max(0, Math.floor((ev.clientX - rect.left) / SIZE * n)));
      const row = Math.min(n - 1, Math.max(0, Math.floor((ev.clientY - rect.top) / SIZE * n)));
      $("hover").textContent = `x ${fmt(x)}  y ${fmt(y)}  f ≈ ${fmt(S.grid.values[row * n + col])}` + (DATA ? "" : "  (click to start here)");
    });
    $("play").onclick = () => {
      if (S.iter >= lastIter()) S.iter = 0;
      setPlaying(!S.playing);
      if (!S.playing) document.body.dataset.playback = "paused";
    };
    $("step").onclick = () => { setPlaying(false); S.iter = Math.min(S.iter + 1, lastIter()); document.body.dataset.playback = "paused"; render(); };
    $("reset").onclick = () => { setPlaying(false); S.iter = 0; document.body.dataset.playback = "ready"; render(); };
    $("surface").onchange = () => { selectSurface($("surface").value); debounce(async () => { await loadSurface(); await recompute(); }); };
    for (const id of ["kappa", "theta"]) {
      $(id).oninput = () => { updateBowlLabels(); debounce(async () => { await loadSurface(); await recompute(); }); };
    }
    $("steps").onchange = () => debounce(recompute);
    $("schedule").onchange = () => debounce(recompute);
    $("basin-run").onclick = () => runBasin().catch((e) => { $("basin-status").textContent = ""; showError(e); });
    $("basin-hide").onclick = () => { S.view = "surface"; render(); };
    $("basin-colour").onchange = () => render();
  }

  function updateBowlLabels() {
    $("kappa-out").textContent = (Math.round(Math.pow(10, +$("kappa").value) * 100) / 100).toString();
    $("theta-out").textContent = `${$("theta").value}°`;
  }

  async function main() {
    wire();
    updateBowlLabels();
    const params = new URLSearchParams(location.search);
    if (DATA) {
      S.info = { surfaces: [DATA.surface], presets: DATA.runs.map((r) => r.preset), optimizers: [], device: DATA.device };
      $("device").textContent = `exported from downhill (computed on ${DATA.device}); trajectories precomputed at ${DATA.lrs.length} learning rates, the sliders pick among them; start fixed`;
      $("hover").textContent = "hover over the surface to read f(x, y); the start is fixed in an exported page";
      for (const id of ["surface", "steps", "schedule", "kappa", "theta"]) $(id).disabled = true;
      $("steps").value = DATA.steps;
      $("basin-box").style.display = "none";
    } else {
      S.info = await api("/api/info");
      $("device").textContent = `computing on ${S.info.device}`;
    }
    $("surface").innerHTML = S.info.surfaces.map((s) => `<option value="${s.name}">${s.title}</option>`).join("");
    if (params.get("steps")) $("steps").value = params.get("steps");
    const start = params.get("start") ? params.get("start").split(",").map(Number) : null;
    selectSurface(DATA ? DATA.surface.name : (params.get("surface") || "himmelblau"), DATA ? DATA.start : start);
    const keys = params.get("racers") ? params.get("racers").split(",") : ["sgd", "momentum", "adam", "rmsprop"];
    buildRacers(DATA ? DATA.runs.map((r) => r.preset.key) : keys);
    await loadSurface();
    await recompute();
    if (params.get("play") === "1") setPlaying(true);
    requestAnimationFrame(tick);
  }

  main().catch((e) => { showError(e); document.body.dataset.playback = "error"; });
})();
