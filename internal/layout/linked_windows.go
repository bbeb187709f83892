//go:build windows

package layout

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

func init() { linkedByHandle = sameFileAt }

// sameFileAt reports whether path names the open file f: the same volume
// and file index, both read through handles (GetFileInformationByHandle).
// os.SameFile opens the path with no sharing allowed, which Wine refuses
// while the file is mapped; this opens it sharing everything and asking
// for no access, which nothing refuses.
func sameFileAt(f *os.File, path string) (bool, error) {
	var opened windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(f.Fd()), &opened); err != nil {
		return false, os.NewSyscallError("GetFileInformationByHandle", err)
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return false, err
	}
	h, err := windows.CreateFile(p, 0, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, windows.ERROR_PATH_NOT_FOUND) {
		return false, nil
	}
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		// A file removed but still open somewhere (delete pending) is not
		// the file at path any more.
		return false, nil
	}
	if err != nil {
		return false, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer windows.CloseHandle(h)
	var now windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &now); err != nil {
		return false, os.NewSyscallError("GetFileInformationByHandle", err)
	}
	return opened.VolumeSerialNumber == now.VolumeSerialNumber &&
		opened.FileIndexHigh == now.FileIndexHigh && opened.FileIndexLow == now.FileIndexLow, nil
}
