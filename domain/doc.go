// Package domain is kekbit's pure logic: the channel header, record framing
// and markers, tick units, the format version, and the Writer and Reader that
// work over any [ports.Storage]. It does no I/O of its own and uses no
// unsafe; adapters provide the bytes. Programs use it through the front
// door, package kekbit.
//
// Writer, Reader and Resume reach a channel through one region: its bounds
// and the way to its bytes, chosen once when the channel is opened (the
// storage's memory views when it is addressable, else its methods). One
// function, region.classify, reads a length word and says what it is (a
// record and its end, a heartbeat, the watermark, the close mark, corrupt,
// truncated, full); reads, follows, MoveTo and Resume all step through a
// channel with it. A reader's timeout clock (idleClock) and what it asks its
// storage beside reading (watch: writer liveness, the file's size) are
// separate from the read loop.
//
// A channel file (format 1.0.0, little endian):
//
//	offset 0      +-------------------------------------------+
//	              | header, 128 bytes                         |
//	              |   0  signature "*KEKBIT*"          u64    |
//	              |   8  version major<<48|minor<<32|p u64    |
//	              |  16  writer id                     u64    |
//	              |  24  channel id                    u64    |
//	              |  32  capacity                      u32    |
//	              |  36  max record length             u32    |
//	              |  40  timeout (ticks)               u64    |
//	              |  48  creation time (ticks)         u64    |
//	              |  56  tick unit id (9,6,3,0)        u8     |
//	offset 128    +-------------------------------------------+
//	              | extension block, 64 bytes (optional):     |
//	              |  128 magic "KEKBXT01"              u64    |
//	              |  136 extension version (1)         u32    |
//	              |  140 flags: 1 crc, 2 seq, 4 time,  u32    |
//	              |       8 journal segment, 16 multi-writer  |
//	              |  144 envelope length               u32    |
//	              |  152 sequence base                 u64    |
//	              |  160 journal id (flag 8)           16 B   |
//	              |  176 segment index (flag 8)        u64    |
//	              |  188 CRC32C of bytes 0..187        u32    |
//	offset 192    | close trailer (enveloped channels):       |
//	              |  192 close position, 200 records,         |
//	              |  208 CRC32C of 192..207                   |
//	offset 216    | journal end mark (last segment, closed):  |
//	              |  216 "KEKBJEND", 224 CRC32C of 216..223   |
//	              | 256 progress mark                         |
//	              | 320 tail (multi-writer): records<<32|pos/8|
//	              | 384 writer slots (multi-writer), 10 x 64  |
//	              | zeros up to 1024                          |
//	offset 1024   +-------------------------------------------+  position 0
//	              | data region, capacity bytes:              |
//	              |  [len u64][payload][pad to 8] ...         |
//	              |  len 0           heartbeat                |
//	              |  0xFFFFFFFF11111111  watermark (no data)  |
//	              |  0xFFFFFFFFFFFFFFFF  close mark           |
//	1024+capacity +-------------------------------------------+
//	              | footer, 32 bytes (room for the last mark) |
//	              +-------------------------------------------+
//
// A record's position is its offset from the start of the data region. On a
// channel with an envelope every record's payload starts with it: CRC32C
// (u32, then 4 zero bytes), sequence number (u64), time (u64), each if its
// flag is set, in that order; FORMAT.md in the repository has every byte. The
// writer publishes a record by writing its payload, storing a watermark after
// it, and only then storing its length word (release); a reader loads the
// length word (acquire) and so never sees a half-written record.
//
// A multi-writer channel (flag 16; multi.go, FORMAT.md "Multiple writers")
// has its data region prefilled with the watermark; writers claim room by
// a compare-and-swap of the tail word, which hands each claim its position
// and record number at once (a batch's: room and numbers for several
// records; the slot's size word says how many), and publish by one
// release store of the length word. Each writer holds a slot of the slot
// table and its lock; a claim whose writer died, and an aborted claim,
// become a void record (an envelope-only record carrying the claim's
// sequence number, which readers verify and skip; one per record of a
// batch not yet published) or heartbeats, by whoever waits on it past a
// bound.
package domain
