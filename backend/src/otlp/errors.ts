import { SentinelError } from '../errors';

/**
 * Errors of the OTLP receiver. Each carries the HTTP status the OTLP/HTTP specification prescribes; the
 * receiver's error handler turns them into a `google.rpc.Status` body in the request's encoding.
 */

/** The body cannot be decoded (bad protobuf, bad JSON, bad gzip, wrong shape): permanent, 400. */
export class OtlpDecodeError extends SentinelError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'otlp_decode', status: 400, cause });
  }
}

/** Content-Type or Content-Encoding the receiver does not speak: 415. */
export class OtlpUnsupportedMediaTypeError extends SentinelError {
  /** What was sent (header value), for the message and logs. */
  readonly mediaType: string;
  constructor(mediaType: string, what: 'content-type' | 'content-encoding') {
    super(
      what === 'content-type'
        ? `unsupported Content-Type "${mediaType}": use application/x-protobuf or application/json`
        : `unsupported Content-Encoding "${mediaType}": use gzip or none`,
      { code: 'unsupported_media_type', status: 415 },
    );
    this.mediaType = mediaType;
  }
}

/** The body, compressed or once decompressed, is larger than the limit: 413. */
export class OtlpPayloadTooLargeError extends SentinelError {
  readonly limitBytes: number;
  constructor(limitBytes: number, decompressed: boolean, cause?: unknown) {
    super(
      decompressed
        ? `decompressed body exceeds ${limitBytes} bytes (SENTINEL_BODY_LIMIT)`
        : `request body exceeds ${limitBytes} bytes (SENTINEL_BODY_LIMIT)`,
      { code: 'body_too_large', status: 413, cause },
    );
    this.limitBytes = limitBytes;
  }
}
