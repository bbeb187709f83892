package mmap

// Remove removes the file name, trying again for a moment while another
// handle holds it (removeFile): Windows removes no open file.
func (osFS) Remove(name string) error { return removeFile(name) }
