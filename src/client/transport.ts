/**
 * How the SDK client speaks HTTP: node:http(s) with keep-alive connections, one pool per
 * Client. Much cheaper per request than the global fetch, which matters to a client that submits
 * jobs one by one from many concurrent callers. Idle pooled connections do not keep a process
 * alive (the agent unrefs them while they wait for reuse).
 */
import http from 'node:http';
import https from 'node:https';

/** The HTTP methods the client API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface TransportRequest {
  method: HttpMethod;
  headers: Record<string, string>;
  body?: string;
  /** Aborts the request (it then rejects with the signal's reason). */
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  text: string;
}

export type Transport = (url: string, request: TransportRequest) => Promise<TransportResponse>;

/** Keep-alive pools; sockets idle this long are closed (below common server keep-alive limits). */
const IDLE_MS = 4_000;

export function httpTransport(): Transport {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, timeout: IDLE_MS }),
    'https:': new https.Agent({ keepAlive: true, timeout: IDLE_MS }),
  };
  return (url, request) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const target = new URL(url);
      const module = target.protocol === 'https:' ? https : http;
      const agent = target.protocol === 'https:' ? agents['https:'] : agents['http:'];
      const headers: Record<string, string | number> = { ...request.headers };
      if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
      const options: http.RequestOptions = { method: request.method, headers, agent };
      if (request.signal !== undefined) options.signal = request.signal;
      const req = module.request(target, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(request.body);
    });
}

/** A Transport over a fetch function (for proxies, retries or test doubles). */
export function fetchTransport(fetchFn: typeof fetch): Transport {
  return async (url, request) => {
    const response = await fetchFn(url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.signal === undefined ? {} : { signal: request.signal }),
    });
    return { status: response.status, text: await response.text() };
  };
}
