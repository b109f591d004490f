import QRCode from 'qrcode';
import { otpauthUri } from './totp.js';

/**
 * What a client needs to set up an authenticator app: the secret for manual
 * entry, the Key Uri Format URI, and the same URI as a QR code in two forms
 * (PNG data URL for <img src>, SVG markup for crisp inline rendering).
 *
 * All four carry the shared secret: callers show them once, at enrollment,
 * over an authenticated protected channel, and never log them (NIST SP
 * 800-63B 5.1.4.2 / 5.1.5.2: the verifier's copy of the symmetric key "SHALL
 * be strongly protected against compromise").
 */
export interface Enrollment {
  secret: string;
  otpauth_uri: string;
  /** data:image/png;base64,... */
  qr_code_png: string;
  /** <svg ...> markup */
  qr_code_svg: string;
}

/**
 * Error correction 'M' (15 %) keeps the symbol small enough for phone cameras
 * at the URI's typical length while tolerating glare; a 4-module quiet zone is
 * what ISO/IEC 18004 requires for reliable scanning.
 */
const QR_OPTIONS = { errorCorrectionLevel: 'M', margin: 4 } as const;

export async function buildEnrollment(opts: { issuer: string; login: string; secretBase32: string }): Promise<Enrollment> {
  const uri = otpauthUri(opts);
  const [png, svg] = await Promise.all([
    QRCode.toDataURL(uri, { ...QR_OPTIONS, type: 'image/png', width: 256 }),
    QRCode.toString(uri, { ...QR_OPTIONS, type: 'svg' }),
  ]);
  return { secret: opts.secretBase32, otpauth_uri: uri, qr_code_png: png, qr_code_svg: svg };
}
