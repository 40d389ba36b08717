// The school API against the bundled data, with expected values computed from the source
// CSV in the test (not from the importer), on every database backend.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { describeEachBackendApp, type TestApp } from '../helpers/app.ts'
import { edbRows } from '../helpers/source-data.ts'

const rows = edbRows()
const ofLevel = (level: 'PRIMARY' | 'SECONDARY') => rows.filter((row) => row['SCHOOL LEVEL'] === level)

interface Item {
  schoolNo: string
  nameEn: string
  nameZh: string
  district: { code: string; en: string; zh: string }
  category: { code: string; en: string; zh: string }
  schoolGroup: { code: string }
  schoolNet: { code: string } | null
  banding: { code: string } | null
}
interface Page {
  items: Item[]
  page: number
  pageSize: number
  total: number
  totalPages: number
}
interface Options {
  total: number
  filters: Record<string, { code: string; en: string; zh: string; count: number }[]>
}

describeEachBackendApp('school API', (getApp: () => TestApp) => {
  let primaryOptions: Options
  let secondaryOptions: Options
  const get = async (url: string) => {
    const response = await getApp().app.inject({ method: 'GET', url })
    return { status: response.statusCode, body: response.json() as Record<string, unknown>, headers: response.headers }
  }
  const page = async (url: string): Promise<Page> => {
    const response = await get(url)
    assert.equal(response.status, 200, `${url}: ${JSON.stringify(response.body)}`)
    return response.body as unknown as Page
  }

  before(async () => {
    primaryOptions = (await get('/api/schools/filters?level=primary')).body as unknown as Options
    secondaryOptions = (await get('/api/schools/filters?level=secondary')).body as unknown as Options
  })

  test('filter options count what the source file holds, with labels from the file', () => {
    for (const [options, level] of [[primaryOptions, 'PRIMARY'], [secondaryOptions, 'SECONDARY']] as const) {
      const source = ofLevel(level)
      assert.equal(options.total, source.length)
      for (const option of options.filters.district!) {
        assert.equal(option.count, source.filter((row) => row['分區'] === option.zh).length, option.code)
      }
      for (const option of options.filters.category!) {
        assert.equal(option.count, source.filter((row) => row['資助種類'] === option.zh).length, option.code)
      }
      for (const option of options.filters.schoolGroup!) {
        assert.equal(option.count, source.filter((row) => row['ENGLISH CATEGORY'] === option.en).length, option.code)
      }
      const districts = new Set(source.map((row) => row['DISTRICT']))
      assert.equal(options.filters.district!.length, districts.size)
      assert.equal(options.filters.district!.reduce((sum, option) => sum + option.count, 0), source.length)
    }
    assert.ok(primaryOptions.filters.district!.some((option) => option.code === 'kowloon-city' && option.en === 'Kowloon City' && option.zh === '九龍城區'))
    assert.deepEqual(primaryOptions.filters.gender!.map((option) => option.code), ['boys', 'co-ed', 'girls'])
  })

  test('each district filter returns exactly the source rows of that district', async () => {
    for (const option of primaryOptions.filters.district!) {
      const result = await page(`/api/schools/primary?district=${option.code}&pageSize=100`)
      assert.equal(result.total, ofLevel('PRIMARY').filter((row) => row['分區'] === option.zh).length, option.code)
      assert.ok(result.items.every((item) => item.district.code === option.code))
    }
  })

  test('filters combine with AND across fields and OR within one', async () => {
    const secondary = ofLevel('SECONDARY')
    const both = await page('/api/schools/secondary?district=kowloon-city&category=aided')
    assert.equal(both.total, secondary.filter((row) => row['分區'] === '九龍城區' && row['FINANCE TYPE'] === 'AIDED').length)
    const comma = await page('/api/schools/secondary?district=kowloon-city,sha-tin')
    const repeated = await page('/api/schools/secondary?district=sha-tin&district=kowloon-city')
    const expected = secondary.filter((row) => row['分區'] === '九龍城區' || row['分區'] === '沙田區').length
    assert.equal(comma.total, expected)
    assert.deepEqual(repeated, comma)
    const gender = await page('/api/schools/primary?gender=girls&religion=catholicism')
    assert.equal(gender.total, ofLevel('PRIMARY').filter((row) => row['STUDENTS GENDER'] === 'GIRLS' && row['RELIGION'] === 'CATHOLICISM').length)
    const none = await page('/api/schools/primary?religion=none&session=whole-day')
    assert.equal(none.total, ofLevel('PRIMARY').filter((row) => /^(N\.A\.|NOT APPLICABLE)$/i.test(row['RELIGION']!) && row['SESSION'] === 'WHOLE DAY').length)
  })

  test('school net filter returns the schools the profiles place in that net', async () => {
    const net11 = await page('/api/schools/primary?schoolNet=11&pageSize=100')
    const option = primaryOptions.filters.schoolNet!.find((entry) => entry.code === '11')!
    assert.equal(net11.total, option.count)
    assert.ok(net11.total > 10)
    assert.ok(net11.items.every((item) => item.schoolNet?.code === '11' && item.district.code === 'central-and-western'))
  })

  test('pages cover every row once, in name then school number order', async () => {
    const all: Item[] = []
    const first = await page('/api/schools/secondary?pageSize=100')
    assert.equal(first.totalPages, Math.ceil(ofLevel('SECONDARY').length / 100))
    for (let number = 1; number <= first.totalPages; number++) all.push(...(await page(`/api/schools/secondary?pageSize=100&page=${number}`)).items)
    assert.equal(all.length, ofLevel('SECONDARY').length)
    assert.equal(new Set(all.map((item) => item.schoolNo)).size, all.length)
    for (let index = 1; index < all.length; index++) {
      const [a, b] = [all[index - 1]!, all[index]!]
      assert.ok(a.nameEn < b.nameEn || (a.nameEn === b.nameEn && a.schoolNo < b.schoolNo), `${a.nameEn} / ${b.nameEn}`)
    }
    const last = await page(`/api/schools/secondary?pageSize=100&page=${first.totalPages}`)
    assert.equal(last.items.length, ofLevel('SECONDARY').length % 100 || 100)
    const defaults = await page('/api/schools/primary')
    assert.equal(defaults.pageSize, 20)
    assert.equal(defaults.page, 1)
    assert.equal(defaults.items.length, 20)
  })

  test('name search works in Chinese and in English, any case', async () => {
    const zh = await page('/api/schools/primary?q=' + encodeURIComponent('聖保羅') + '&pageSize=100')
    assert.equal(zh.total, ofLevel('PRIMARY').filter((row) => row['中文名稱']!.includes('聖保羅')).length)
    assert.ok(zh.total > 0)
    const en = await page('/api/schools/secondary?q=diocesan')
    assert.equal(en.total, ofLevel('SECONDARY').filter((row) => row['ENGLISH NAME']!.includes('DIOCESAN')).length)
    assert.ok(en.total > 0)
    const fullWidth = await page('/api/schools/secondary?q=' + encodeURIComponent('ＤＩＯＣＥＳＡＮ'))
    assert.equal(fullWidth.total, en.total)
  })

  test('detail has everything, including profile and net area; unknown school is 404', async () => {
    const detail = await get('/api/schools/513687000122')
    assert.equal(detail.status, 200)
    const body = detail.body as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- a JSON document walked by path
    const source = rows.find((row) => row['SCHOOL NO.'] === '513687000122')!
    assert.equal(body.nameZh, source['中文名稱'])
    assert.equal(body.fax, source['FAX NUMBER'])
    assert.equal(body.session.code, 'pm')
    assert.equal(body.schoolNet.code, '11')
    assert.ok(String(body.schoolNet.areaZh).length > 0)
    assert.ok(body.profile.sponsoringBody)
    assert.ok(Object.keys(body.profile.extra).length > 20)
    assert.deepEqual(body.sameSchoolRows, ['513687000123'])
    const missing = await get('/api/schools/999999999999')
    assert.equal(missing.status, 404)
    assert.equal(missing.body.error, 'E_NOT_FOUND')
  })

  test('stats total by level, district and category', async () => {
    const stats = (await get('/api/schools/stats')).body as { totals: unknown; byCategory: { code: string; count: number }[]; byDistrict: unknown[]; applicationWindowsOpen: unknown }
    assert.deepEqual(stats.totals, { primary: ofLevel('PRIMARY').length, secondary: ofLevel('SECONDARY').length, all: ofLevel('PRIMARY').length + ofLevel('SECONDARY').length })
    const aided = stats.byCategory.find((entry) => entry.code === 'aided')
    assert.equal(aided?.count, rows.filter((row) => row['FINANCE TYPE'] === 'AIDED' && /^(PRIMARY|SECONDARY)$/.test(row['SCHOOL LEVEL']!)).length)
    assert.equal(stats.byDistrict.length, 18)
    assert.equal(typeof stats.applicationWindowsOpen, 'number')
  })

  const badRequests: [string, RegExp][] = [
    ['/api/schools/primary?colour=red', /colour.*not a known parameter/],
    ['/api/schools/primary?page=abc', /page/],
    ['/api/schools/primary?page=0', /page.*>= 1/],
    ['/api/schools/primary?page=-3', /page/],
    ['/api/schools/primary?page=1.5', /page/],
    ['/api/schools/primary?pageSize=0', /pageSize/],
    ['/api/schools/primary?pageSize=101', /pageSize.*<= 100/],
    ['/api/schools/primary?page=999', /page.*past the last page/],
    ['/api/schools/primary?district=Kowloon%20City', /district/],
    ['/api/schools/primary?district=narnia', /district.*unknown code 'narnia'/],
    ['/api/schools/primary?district=kowloon-city,narnia', /district.*narnia/],
    ['/api/schools/primary?banding=1a', /banding.*not a known parameter/],
    ['/api/schools/secondary?schoolNet=41', /schoolNet.*not a known parameter/],
    ['/api/schools/secondary?category=caput&schoolGroup=nope', /schoolGroup.*unknown code/],
    ['/api/schools/primary?q=', /q/],
    ['/api/schools/primary?q=' + 'x'.repeat(101), /q/],
    ['/api/schools/primary?q=%20%20', /q.*more than spaces/],
    ['/api/schools/filters', /level.*required/],
    ['/api/schools/filters?level=tertiary', /level/],
    ['/api/schools/stats?x=1', /x.*not a known parameter/],
    ['/api/schools/12345', /schoolNo/],
    ['/api/schools/513687000122?full=1', /full/],
  ]
  for (const [url, message] of badRequests) {
    test(`400 for ${url.slice(0, 70)}`, async () => {
      const response = await get(url)
      assert.equal(response.status, 400, JSON.stringify(response.body))
      assert.match(String(response.body.message), message)
      assert.ok(response.body.error)
    })
  }

  test('unknown routes are 404 JSON', async () => {
    const response = await get('/api/nothing')
    assert.equal(response.status, 404)
    assert.equal(response.body.error, 'E_NOT_FOUND')
  })

  test('health reports the database', async () => {
    const response = await get('/health')
    assert.equal(response.status, 200)
    assert.equal((response.body.database as { ok: boolean }).ok, true)
  })

  test('the OpenAPI document lists the routes', async () => {
    const response = await get('/docs/json')
    assert.equal(response.status, 200)
    const paths = Object.keys((response.body as { paths: object }).paths)
    for (const route of ['/api/schools/primary', '/api/schools/secondary', '/api/schools/filters', '/api/schools/stats', '/api/schools/{schoolNo}', '/health']) {
      assert.ok(paths.includes(route), route)
    }
  })
})

