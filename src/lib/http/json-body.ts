import express, { type RequestHandler } from 'express';
import { AppError } from '../errors/index.js';

const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;

/**
 * JSON bodies, in UTF-8 only (RFC 8259 8.1). body-parser takes any charset starting with "utf-"
 * that iconv knows: UTF-7 and UTF-16 bodies were decoded, while latin1 was refused. Anything but
 * UTF-8 is now refused with 415 before a byte is read.
 */
export function jsonBody(limit: string): RequestHandler {
  const parse = express.json({ limit, strict: true });
  return (req, res, next) => {
    // Only a body the parser reads: it parses application/json and nothing without a body.
    if (req.is('application/json')) {
      const match = CHARSET.exec(req.get('content-type') ?? '');
      const charset = match?.[1] ?? match?.[2];
      if (charset !== undefined && charset.toLowerCase() !== 'utf-8') {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Unsupported charset "${charset}": send JSON in UTF-8`);
      }
    }
    parse(req, res, next);
  };
}
