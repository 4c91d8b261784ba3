// Numbers, money and times as a merchant reads them.

const locale = navigator.language || 'en';

export function figure(value, unit) {
  if (value === null || value === undefined) return '—';
  if (/^[A-Z]{3}$/.test(unit || '')) {
    try {
      return new Intl.NumberFormat(locale, { style: 'currency', currency: unit }).format(value);
    } catch { /* an unknown code: plain number and unit below */ }
  }
  if (unit === '%' || unit === 'percent') return `${number(value, 1)} %`;
  if (unit === 'ratio') return `${number(value * 100, 1)} %`;
  return unit ? `${number(value)} ${unit}` : number(value);
}

export function number(value, digits) {
  const options = digits === undefined ? { maximumFractionDigits: Math.abs(value) < 10 ? 2 : 0 } : { maximumFractionDigits: digits, minimumFractionDigits: digits };
  return new Intl.NumberFormat(locale, options).format(value);
}

export function dateTime(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}

// Milliseconds as "850 ms", "2.4 s", "1 min 5 s".
export function elapsed(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function json(value) {
  return JSON.stringify(value, null, 2);
}
