import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IApiErrorBody } from './tokens';

/** A failed call to the mlops REST API, with the server's JSON error body when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: IApiErrorBody | null = null
  ) {
    super(message);
  }
}

/** The URL of an API endpoint; `path` segments are encoded one by one. */
export function apiUrl(
  settings: ServerConnection.ISettings,
  segments: string[],
  query: Record<string, string | number | undefined> = {}
): string {
  const path = segments.map(encodeURIComponent);
  const url = URLExt.join(settings.baseUrl, 'mlops', 'api', ...path);
  const params = Object.entries(query)
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  return params.length ? `${url}?${params.join('&')}` : url;
}

/**
 * Call the API through ServerConnection (it adds the token and the XSRF header).
 * Rejects with ApiError carrying the server's `{error, status, ...}` body.
 */
export async function requestAPI<T>(
  settings: ServerConnection.ISettings,
  segments: string[],
  query: Record<string, string | number | undefined> = {},
  init: RequestInit = {}
): Promise<T> {
  const url = apiUrl(settings, segments, query);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(0, `cannot reach the Jupyter server: ${String(error)}`);
  }
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const body = data as IApiErrorBody | null;
    const message =
      body && typeof body.error === 'string'
        ? body.error
        : `${response.status} ${response.statusText || 'error'} from ${segments.join('/')}`;
    throw new ApiError(response.status, message, body);
  }
  return data as T;
}

/** POST a JSON body. */
export function postAPI<T>(
  settings: ServerConnection.ISettings,
  segments: string[],
  body: unknown
): Promise<T> {
  return requestAPI<T>(settings, segments, {}, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  });
}
