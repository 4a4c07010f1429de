// Bench agent: prints "T:<epoch ms>" every 10 ms, TICKS times, then exits 0. Used by bench/scenarios/runners.mjs.
const n = Number(process.env.TICKS ?? 200);
let i = 0;
const timer = setInterval(() => {
  process.stdout.write(`T:${Date.now()}\n`);
  if (++i >= n) {
    clearInterval(timer);
    setTimeout(() => process.exit(0), 200);
  }
}, 10);
