import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is CommonJS with an `export default` typing: under NodeNext the ESM
// default import is `module.exports`, whose `.default` is the decoder function.
const jsQR = jsQRModule.default;

const PNG_PREFIX = 'data:image/png;base64,';

/** Decodes a QR code PNG data URL with decoders independent of `qrcode` (pngjs + jsQR). */
export function decodeQrDataUrl(dataUrl: string): string | undefined {
  if (!dataUrl.startsWith(PNG_PREFIX)) return undefined;
  const png = PNG.sync.read(Buffer.from(dataUrl.slice(PNG_PREFIX.length), 'base64'));
  return jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength), png.width, png.height)?.data;
}
