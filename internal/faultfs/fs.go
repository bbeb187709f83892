package faultfs

import (
	"os"
	"time"

	"github.com/spf13/afero"
)

// Fs is an afero.Fs whose operations, and those of the files it opens, an
// [Injector] may fail. Every method but Name is an operation: it asks the
// injector first and, told to fail, returns the injected error without
// touching the file system. File.Close is the exception: it closes the file
// anyway, as close(2) releases the descriptor even when it reports an
// error, so that a failed Close leaks nothing the code under test did not.
type Fs struct {
	fs  afero.Fs
	inj *Injector
}

var (
	_ afero.Fs   = (*Fs)(nil)
	_ afero.File = (*File)(nil)
)

// Wrap returns fsys with the failures inj decides.
func Wrap(fsys afero.Fs, inj *Injector) *Fs { return &Fs{fs: fsys, inj: inj} }

// Name returns the wrapped file system's name, marked.
func (f *Fs) Name() string { return "faultfs(" + f.fs.Name() + ")" }

func (f *Fs) file(file afero.File, err error) (afero.File, error) {
	if err != nil {
		return nil, err
	}
	return &File{file: file, inj: f.inj}, nil
}

// Create is afero.Fs.Create, failed as the injector says.
func (f *Fs) Create(name string) (afero.File, error) {
	if err := f.inj.MaybeError(OpCreate, name); err != nil {
		return nil, err
	}
	return f.file(f.fs.Create(name))
}

// Mkdir is afero.Fs.Mkdir, failed as the injector says.
func (f *Fs) Mkdir(name string, perm os.FileMode) error {
	if err := f.inj.MaybeError(OpMkdir, name); err != nil {
		return err
	}
	return f.fs.Mkdir(name, perm)
}

// MkdirAll is afero.Fs.MkdirAll, failed as the injector says.
func (f *Fs) MkdirAll(path string, perm os.FileMode) error {
	if err := f.inj.MaybeError(OpMkdirAll, path); err != nil {
		return err
	}
	return f.fs.MkdirAll(path, perm)
}

// Open is afero.Fs.Open, failed as the injector says.
func (f *Fs) Open(name string) (afero.File, error) {
	if err := f.inj.MaybeError(OpOpen, name); err != nil {
		return nil, err
	}
	return f.file(f.fs.Open(name))
}

// OpenFile is afero.Fs.OpenFile, failed as the injector says.
func (f *Fs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if err := f.inj.MaybeError(OpOpenFile, name); err != nil {
		return nil, err
	}
	return f.file(f.fs.OpenFile(name, flag, perm))
}

// Remove is afero.Fs.Remove, failed as the injector says.
func (f *Fs) Remove(name string) error {
	if err := f.inj.MaybeError(OpRemove, name); err != nil {
		return err
	}
	return f.fs.Remove(name)
}

// RemoveAll is afero.Fs.RemoveAll, failed as the injector says.
func (f *Fs) RemoveAll(path string) error {
	if err := f.inj.MaybeError(OpRemoveAll, path); err != nil {
		return err
	}
	return f.fs.RemoveAll(path)
}

// Rename is afero.Fs.Rename, failed as the injector says.
func (f *Fs) Rename(oldname, newname string) error {
	if err := f.inj.MaybeError(OpRename, oldname); err != nil {
		return err
	}
	return f.fs.Rename(oldname, newname)
}

// Stat is afero.Fs.Stat, failed as the injector says.
func (f *Fs) Stat(name string) (os.FileInfo, error) {
	if err := f.inj.MaybeError(OpStat, name); err != nil {
		return nil, err
	}
	return f.fs.Stat(name)
}

// Chmod is afero.Fs.Chmod, failed as the injector says.
func (f *Fs) Chmod(name string, mode os.FileMode) error {
	if err := f.inj.MaybeError(OpChmod, name); err != nil {
		return err
	}
	return f.fs.Chmod(name, mode)
}

// Chown is afero.Fs.Chown, failed as the injector says.
func (f *Fs) Chown(name string, uid, gid int) error {
	if err := f.inj.MaybeError(OpChown, name); err != nil {
		return err
	}
	return f.fs.Chown(name, uid, gid)
}

// Chtimes is afero.Fs.Chtimes, failed as the injector says.
func (f *Fs) Chtimes(name string, atime, mtime time.Time) error {
	if err := f.inj.MaybeError(OpChtimes, name); err != nil {
		return err
	}
	return f.fs.Chtimes(name, atime, mtime)
}

// File is a file opened through an [Fs]: its operations too may fail.
type File struct {
	file afero.File
	inj  *Injector
}

// Name returns the file's name. It is not an operation.
func (f *File) Name() string { return f.file.Name() }

// Close closes the file and then, if the injector says so, reports the
// injected error instead of the file's.
func (f *File) Close() error {
	injected := f.inj.MaybeError(OpFileClose, f.file.Name())
	err := f.file.Close()
	if injected != nil {
		return injected
	}
	return err
}

// Read is afero.File.Read, failed as the injector says.
func (f *File) Read(p []byte) (int, error) {
	if err := f.inj.MaybeError(OpFileRead, f.file.Name()); err != nil {
		return 0, err
	}
	return f.file.Read(p)
}

// ReadAt is afero.File.ReadAt, failed as the injector says.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if err := f.inj.MaybeError(OpFileReadAt, f.file.Name()); err != nil {
		return 0, err
	}
	return f.file.ReadAt(p, off)
}

// Seek is afero.File.Seek, failed as the injector says.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if err := f.inj.MaybeError(OpFileSeek, f.file.Name()); err != nil {
		return 0, err
	}
	return f.file.Seek(offset, whence)
}

// Write is afero.File.Write, failed as the injector says.
func (f *File) Write(p []byte) (int, error) {
	if err := f.inj.MaybeError(OpFileWrite, f.file.Name()); err != nil {
		return 0, err
	}
	return f.file.Write(p)
}

// WriteAt is afero.File.WriteAt, failed as the injector says (nothing is
// written).
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if err := f.inj.MaybeError(OpFileWriteAt, f.file.Name()); err != nil {
		return 0, err
	}
	return f.file.WriteAt(p, off)
}

// WriteString is afero.File.WriteString, failed as the injector says.
func (f *File) WriteString(s string) (int, error) {
	if err := f.inj.MaybeError(OpFileWriteString, f.file.Name()); err != nil {
		return 0, err
	}
	return f.file.WriteString(s)
}

// Readdir is afero.File.Readdir, failed as the injector says.
func (f *File) Readdir(count int) ([]os.FileInfo, error) {
	if err := f.inj.MaybeError(OpFileReaddir, f.file.Name()); err != nil {
		return nil, err
	}
	return f.file.Readdir(count)
}

// Readdirnames is afero.File.Readdirnames, failed as the injector says.
func (f *File) Readdirnames(n int) ([]string, error) {
	if err := f.inj.MaybeError(OpFileReaddirnames, f.file.Name()); err != nil {
		return nil, err
	}
	return f.file.Readdirnames(n)
}

// Stat is afero.File.Stat, failed as the injector says.
func (f *File) Stat() (os.FileInfo, error) {
	if err := f.inj.MaybeError(OpFileStat, f.file.Name()); err != nil {
		return nil, err
	}
	return f.file.Stat()
}

// Sync is afero.File.Sync, failed as the injector says.
func (f *File) Sync() error {
	if err := f.inj.MaybeError(OpFileSync, f.file.Name()); err != nil {
		return err
	}
	return f.file.Sync()
}

// Truncate is afero.File.Truncate, failed as the injector says.
func (f *File) Truncate(size int64) error {
	if err := f.inj.MaybeError(OpFileTruncate, f.file.Name()); err != nil {
		return err
	}
	return f.file.Truncate(size)
}
