import { open } from 'node:fs/promises';

/**
 * Bytes `offset`..`offset + length` of a finished file of `size` bytes (fewer at its end): what a
 * download or a recording sends per request, so a file of any size crosses nodes in pieces.
 */
export async function readPiece(
  path: string,
  size: number,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const file = await open(path);
  try {
    const piece = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
    const { bytesRead } = await file.read(piece, 0, piece.length, offset);
    return piece.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
