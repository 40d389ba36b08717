// The admin API with the operator's bearer token. The token lives in sessionStorage: it is
// asked for once per browser tab and is gone when the tab closes.
const TOKEN_KEY = 'schools.adminToken'

export class ApiError extends Error {
  constructor(status, message) {
    super(message)
    this.status = status
  }
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token)
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY)
}

/** Calls the admin API; throws ApiError with the server's message for any non-2xx answer. */
export async function api(path, { method = 'GET', body, token = storedToken() } = {}) {
  const headers = { accept: 'application/json', authorization: `Bearer ${token ?? ''}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
  } catch (error) {
    throw new ApiError(0, error instanceof Error ? error.message : String(error))
  }
  const text = await response.text()
  let data
  try {
    data = text === '' ? {} : JSON.parse(text)
  } catch {
    data = { message: text.slice(0, 200) }
  }
  if (!response.ok) throw new ApiError(response.status, data.message ?? data.error ?? response.statusText)
  return data
}
