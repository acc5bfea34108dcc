// Draw-to-audio: paint a spectrogram (dark = loud) and hear it through Griffin-Lim on the server.
import { $, appendDecoder, postForm, setStatus } from "./common.js";

let drawing = false, last = null;

function canvas() { return $("draw-canvas"); }

function clear() {
  const c = canvas(), g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, c.width, c.height);
}

function setLength() {
  // One column per 10 ms, like the model's spectrograms: 5.11 s = 512 columns.
  const seconds = Number($("draw-length").value);
  const c = canvas();
  const old = document.createElement("canvas");
  old.width = c.width; old.height = c.height;
  old.getContext("2d").drawImage(c, 0, 0);
  c.width = Math.round(seconds * 100) + 1;
  clear();
  c.getContext("2d").drawImage(old, 0, 0);
  // The CSS sets only the height (smaller on phones); the width follows the canvas's own aspect
  // ratio, so pixels stay square at every size.
}

function pos(ev) {
  const c = canvas(), r = c.getBoundingClientRect();
  return { x: ((ev.clientX - r.left) / r.width) * c.width, y: ((ev.clientY - r.top) / r.height) * c.height };
}

function stroke(from, to) {
  const g = canvas().getContext("2d");
  const eraser = document.querySelector("input[name=tool]:checked").value === "eraser";
  const level = 255 - Number($("brush-strength").value);
  g.strokeStyle = eraser ? "#fff" : `rgb(${level},${level},${level})`;
  g.lineWidth = Number($("brush-size").value);
  g.lineCap = "round";
  g.beginPath();
  g.moveTo(from.x, from.y);
  g.lineTo(to.x, to.y);
  g.stroke();
}

async function play() {
  const status = $("draw-status");
  const button = $("draw-play");
  button.disabled = true;
  setStatus(status, "Turning the drawing into sound…");
  try {
    const blob = await new Promise((res) => canvas().toBlob(res, "image/png"));
    const form = new FormData();
    form.append("image", blob, "drawing.png");
    form.append("format", "wav");
    appendDecoder(form);
    const out = await postForm("/api/v1/image_to_audio", form);
    const audio = $("draw-audio");
    audio.hidden = false;
    audio.src = out.audio;
    await audio.play().catch(() => {});
    setStatus(status, `${out.duration_s.toFixed(2)} s of audio (decoded in ${out.elapsed_s.toFixed(1)} s)`, "ok");
  } catch (err) {
    setStatus(status, `Failed: ${err.message}`, "error");
  } finally {
    button.disabled = false;
  }
}

export function initDraw() {
  const c = canvas();
  setLength();
  c.addEventListener("pointerdown", (ev) => {
    drawing = true; last = pos(ev); c.setPointerCapture(ev.pointerId); stroke(last, last);
  });
  c.addEventListener("pointermove", (ev) => { if (drawing) { const p = pos(ev); stroke(last, p); last = p; } });
  const end = () => { drawing = false; last = null; };
  c.addEventListener("pointerup", end);
  c.addEventListener("pointercancel", end);
  $("draw-clear").addEventListener("click", clear);
  $("draw-length").addEventListener("change", setLength);
  $("draw-play").addEventListener("click", play);
  // Keyboard: Enter/Space on the focused canvas plays, Delete clears.
  c.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); play(); }
    if (ev.key === "Delete" || ev.key === "Backspace") { ev.preventDefault(); clear(); }
  });
}
