// The hit / stale / miss chart (uPlot, served from its npm package). Each process counts the
// requests it answered; with several workers or instances the page sums the series of every
// instance that answered it in the last two minutes.
import uPlot from './vendor/uplot/uPlot.esm.js'
import { h, replaceChildren } from './dom.js'
import { formatNumber, formatPercent } from './format.js'
import { t } from './i18n.js'

const SEEN_WINDOW_MS = 2 * 60_000
const HOUR_MINUTE = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Hong_Kong', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
const hourMinute = (seconds) => HOUR_MINUTE.format(new Date(seconds * 1000))
const COLOURS = { hit: '#1a7f37', stale: '#bf8700', miss: '#cf222e' }

export class CacheChart {
  #plot = null
  #series = new Map()
  #container
  #width = 0

  constructor(container) {
    this.#container = container
    new ResizeObserver(() => this.#resize()).observe(container)
  }

  /** Keeps this instance's latest points; returns the summed points of the instances seen lately. */
  add(instance, points) {
    const now = Date.now()
    this.#series.set(instance, { points, seenAt: now })
    for (const [name, entry] of this.#series) if (now - entry.seenAt > SEEN_WINDOW_MS) this.#series.delete(name)
    const sums = new Map()
    for (const { points: list } of this.#series.values()) {
      for (const point of list) {
        const sum = sums.get(point.minute) ?? { minute: point.minute, hit: 0, stale: 0, miss: 0 }
        sum.hit += point.hit
        sum.stale += point.stale
        sum.miss += point.miss
        sums.set(point.minute, sum)
      }
    }
    return [...sums.values()].sort((a, b) => a.minute - b.minute)
  }

  instances() {
    return [...this.#series.keys()].sort()
  }

  render(points) {
    const x = points.map((point) => point.minute / 1000)
    const share = (state) => points.map((point) => {
      const total = point.hit + point.stale + point.miss
      return total === 0 ? null : (100 * point[state]) / total
    })
    const data = [x, share('hit'), share('stale'), share('miss')]
    if (this.#plot) {
      this.#plot.setData(data)
      return
    }
    const width = this.#chartWidth()
    this.#plot = new uPlot({
      width,
      height: 220,
      // Hong Kong time on the axis and in the legend, whatever the browser's zone.
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), 'Asia/Hong_Kong'),
      scales: { y: { range: [0, 100] } },
      axes: [{ values: (_plot, ticks) => ticks.map(hourMinute) }, { values: (_plot, ticks) => ticks.map((tick) => `${tick}%`) }],
      series: [
        { label: t('cache.time') },
        { label: t('cache.hit'), stroke: COLOURS.hit, width: 2, points: { show: true, size: 6 } },
        { label: t('cache.stale'), stroke: COLOURS.stale, width: 2, points: { show: true, size: 6 } },
        { label: t('cache.miss'), stroke: COLOURS.miss, width: 2, points: { show: true, size: 6 } },
      ],
    }, data, this.#container)
    this.#width = width
  }

  /** Series labels follow the language: the chart is rebuilt on the next render. */
  relabel() {
    this.#plot?.destroy()
    this.#plot = null
    replaceChildren(this.#container)
  }

  #chartWidth() {
    return Math.max(260, Math.floor(this.#container.clientWidth || 600))
  }

  #resize() {
    if (!this.#plot) return
    const width = this.#chartWidth()
    if (width !== this.#width) {
      this.#width = width
      this.#plot.setSize({ width, height: 220 })
    }
  }
}

/** The one-line summary under the chart. */
export function hourSummary(points) {
  const totals = points.reduce((sum, point) => ({ hit: sum.hit + point.hit, stale: sum.stale + point.stale, miss: sum.miss + point.miss }), { hit: 0, stale: 0, miss: 0 })
  const requests = totals.hit + totals.stale + totals.miss
  const share = (value) => (requests === 0 ? t('never') : formatPercent(value / requests))
  return h('span', {}, t('cache.lastHour', { requests: formatNumber(requests), hit: share(totals.hit), stale: share(totals.stale), miss: share(totals.miss) }))
}
