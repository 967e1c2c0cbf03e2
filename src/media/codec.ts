/** The video codecs castpool encodes and negotiates. */
export type Codec = 'H264' | 'VP8';
