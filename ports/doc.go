// Package ports holds the small interfaces the kekbit domain needs from the
// outside world: one channel's bytes ([Storage]) and the place where channels
// live ([Volume]). Adapters under adapters/ implement them; the domain never
// imports an adapter.
//
// Optional abilities are separate small interfaces found by type assertion,
// in the manner of io/fs: a storage whose bytes are addressable implements
// [Addressable] so the domain can copy payloads straight in and out of the
// channel without an interface call per byte.
package ports
