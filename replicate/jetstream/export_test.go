package jetstream

// SkipLock makes a replicator run without the lock file that keeps a
// second replicator of the channel and stream on this machine out, as two
// replicators on two machines sharing the channel would: for the tests of
// the stream's own checks.
func SkipLock(c *ReplicateConfig) { c.skipLock = true }
