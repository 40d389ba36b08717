// Dates in the scheduler's time zone (Asia/Hong_Kong by default), durations, numbers and a
// plain-words reading of the common cron shapes.
import { currentLanguage, t } from './i18n.js'

const ZONE_ABBREVIATIONS = { 'Asia/Hong_Kong': 'HKT' }

/** 'YYYY-MM-DD HH:mm HKT' for an ISO date read in `timeZone`; '—' without one. */
export function formatDateTime(iso, timeZone) {
  if (!iso) return t('never')
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return String(iso)
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).formatToParts(date).map((part) => [part.type, part.value]))
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${ZONE_ABBREVIATIONS[timeZone] ?? timeZone}`
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return t('never')
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}

export function formatNumber(value) {
  return typeof value === 'number' ? new Intl.NumberFormat(currentLanguage() === 'zh' ? 'zh-HK' : 'en').format(value) : String(value)
}

export function formatPercent(share) {
  return typeof share === 'number' && Number.isFinite(share) ? `${(share * 100).toFixed(1)} %` : t('never')
}

export function formatBytes(bytes) {
  if (typeof bytes !== 'number') return String(bytes)
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

/** "daily at 03:00" for `m h * * *`, "every 2 h at :00" for `m *\/n * * *`; null for anything else. */
export function describeCron(cron) {
  const fields = cron.trim().split(/\s+/)
  if (fields.length !== 5 || fields.slice(2).some((field) => field !== '*')) return null
  const [minute, hour] = fields
  if (!/^\d{1,2}$/.test(minute)) return null
  const mm = minute.padStart(2, '0')
  if (/^\d{1,2}$/.test(hour)) return t('cron.daily', { time: `${hour.padStart(2, '0')}:${mm}` })
  const every = /^\*\/(\d{1,2})$/.exec(hour)
  if (every) return t('cron.everyHours', { hours: every[1], minute: mm })
  return null
}
