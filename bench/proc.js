// What Linux's /proc says about a process: the benchmark's CPU and memory figures.
const { readFileSync } = require("node:fs");

/** user + system CPU seconds a process has used so far (clock ticks of 10 ms). */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Peak resident set of a process, in MiB (VmHWM). */
function peakRssMiB(pid) {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return kb ? Math.round(Number(kb) / 1024) : null;
}

module.exports = { cpuSeconds, peakRssMiB };
