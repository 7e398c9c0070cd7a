// seasonal-weekend, in JavaScript: the same rules as ../seasonal-weekend (Rust), built with
// `jco componentize --backend quickjs` (see ../../build.sh). Amounts (s64) may arrive as
// BigInt or Number depending on the engine; they are turned into BigInt so the arithmetic is
// exact. Rules, exactly: README.md.
import { log } from "staybase:plugin/host@0.1.0";

function fail(message) {
  // A thrown value becomes the `err` of `result<priced, string>`.
  throw `invalid config: ${message}`;
}

function percent(value, what) {
  if (value === undefined || value === null) return 0;
  if (!Number.isInteger(value) || value < 0 || value > 1000) fail(`${what} must be an integer from 0 to 1000`);
  return value;
}

/** `MM-DD` -> month * 100 + day, or null. */
function monthDay(s) {
  if (typeof s !== "string" || !/^[0-9]{2}-[0-9]{2}$/.test(s)) return null;
  const m = Number(s.slice(0, 2));
  const d = Number(s.slice(3, 5));
  return m >= 1 && m <= 12 && d >= 1 && d <= 31 ? m * 100 + d : null;
}

function parseConfig(text) {
  let v;
  try {
    v = JSON.parse(text.trim() === "" ? "{}" : text);
  } catch (e) {
    fail(e.message);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) fail("expected a JSON object");
  const seasons = [];
  if (v.seasons !== undefined && v.seasons !== null) {
    if (!Array.isArray(v.seasons)) fail("seasons must be an array");
    v.seasons.forEach((s, i) => {
      const from = monthDay(s?.from);
      const to = monthDay(s?.to);
      if (from === null || to === null) fail(`seasons[${i}] needs "from" and "to" as "MM-DD"`);
      const name = typeof s.name === "string" ? Array.from(s.name).slice(0, 100).join("") : "Season";
      seasons.push({ name, from, to, percent: percent(s.percent, `seasons[${i}].percent`) });
    });
  }
  return { seasons, weekendPercent: percent(v.weekend_percent, "weekend_percent") };
}

function covers(season, date) {
  const md = monthDay(date.slice(5, 10));
  if (md === null) return false;
  if (season.from < season.to) return season.from <= md && md < season.to;
  if (season.from > season.to) return md >= season.from || md < season.to;
  return true;
}

/** amount * percent / 100 rounded half to even (BigInt). */
function percentOf(amount, pct) {
  const n = amount * BigInt(pct);
  let q = n / 100n;
  let r = n % 100n;
  if (r < 0n) {
    q -= 1n;
    r += 100n;
  }
  return r > 50n || (r === 50n && q % 2n !== 0n) ? q + 1n : q;
}

const nightsWord = (n) => (n === 1 ? "night" : "nights");

export function price(quote) {
  const config = parseConfig(quote.config);
  const sums = config.seasons.map(() => ({ sum: 0n, count: 0 }));
  let weekendSum = 0n;
  let weekendCount = 0;
  for (const night of quote.nights) {
    const i = config.seasons.findIndex((s) => covers(s, night.date));
    if (i >= 0) {
      sums[i].sum += BigInt(night.price);
      sums[i].count += 1;
    }
    if (night.weekday === "friday" || night.weekday === "saturday") {
      weekendSum += BigInt(night.price);
      weekendCount += 1;
    }
  }
  const added = [];
  // QuickJS (componentize-qjs) maps s64 to Number, StarlingMonkey to BigInt: answer in kind.
  const bigOut = typeof (quote.nights[0]?.price ?? quote.lines[0]?.amount) === "bigint";
  const out = (v) => (bigOut ? v : Number(v));
  config.seasons.forEach((s, i) => {
    const amount = percentOf(sums[i].sum, s.percent);
    const n = sums[i].count;
    if (n > 0 && amount !== 0n) {
      added.push({ code: "surcharge", label: `${s.name} surcharge (${s.percent}%, ${n} ${nightsWord(n)})`, amount: out(amount) });
    }
  });
  const amount = percentOf(weekendSum, config.weekendPercent);
  if (weekendCount > 0 && amount !== 0n) {
    added.push({
      code: "surcharge",
      label: `Weekend surcharge (${config.weekendPercent}%, ${weekendCount} ${nightsWord(weekendCount)})`,
      amount: out(amount),
    });
  }
  const total = added.reduce((t, l) => t + BigInt(l.amount), 0n);
  log(`seasonal-weekend: ${added.length} surcharge line(s), ${total} in total`);
  return { currency: quote.currency, lines: [...quote.lines, ...added] };
}
