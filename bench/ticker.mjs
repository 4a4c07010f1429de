// Bench agent: prints "T:<epoch ms>" every 10 ms, N times, then exits 0. Used by bench/runners.mjs.
const n = Number(process.env.TICKS ?? 200);
let i = 0;
const timer = setInterval(() => {
  process.stdout.write(`T:${Date.now()}\n`);
  if (++i >= n) {
    clearInterval(timer);
    setTimeout(() => process.exit(0), 200);
  }
}, 10);
