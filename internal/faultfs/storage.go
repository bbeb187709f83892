package faultfs

import (
	"github.com/kekbit-go/kekbit/ports"
)

// Storage is a ports.Storage whose operations an [Injector] may fail: every
// method but Size asks the injector first and, told to fail, returns the
// injected error without touching the storage. Close closes the storage
// anyway (see [Fs]).
//
// It deliberately offers none of the optional abilities of the storage it
// wraps (ports.Addressable and the others): the domain then goes through
// the methods for every byte and every word, so that each can be failed.
type Storage struct {
	st   ports.Storage
	inj  *Injector
	name string
}

var (
	_ ports.Storage = (*Storage)(nil)
	_ ports.Volume  = (*Volume)(nil)
)

// WrapStorage returns st with the failures inj decides; name labels its
// operations.
func WrapStorage(st ports.Storage, inj *Injector, name string) *Storage {
	return &Storage{st: st, inj: inj, name: name}
}

// Size returns the wrapped storage's size. It is not an operation.
func (s *Storage) Size() int64 { return s.st.Size() }

// ReadAt is ports.Storage.ReadAt, failed as the injector says.
func (s *Storage) ReadAt(p []byte, off int64) (int, error) {
	if err := s.inj.MaybeError(OpStorageReadAt, s.name); err != nil {
		return 0, err
	}
	return s.st.ReadAt(p, off)
}

// WriteAt is ports.Storage.WriteAt, failed as the injector says (nothing
// is written).
func (s *Storage) WriteAt(p []byte, off int64) (int, error) {
	if err := s.inj.MaybeError(OpStorageWriteAt, s.name); err != nil {
		return 0, err
	}
	return s.st.WriteAt(p, off)
}

// LoadUint64 is ports.Storage.LoadUint64, failed as the injector says.
func (s *Storage) LoadUint64(off int64) (uint64, error) {
	if err := s.inj.MaybeError(OpStorageLoadUint64, s.name); err != nil {
		return 0, err
	}
	return s.st.LoadUint64(off)
}

// StoreUint64 is ports.Storage.StoreUint64, failed as the injector says
// (nothing is stored).
func (s *Storage) StoreUint64(off int64, v uint64) error {
	if err := s.inj.MaybeError(OpStorageStoreUint64, s.name); err != nil {
		return err
	}
	return s.st.StoreUint64(off, v)
}

// Flush is ports.Storage.Flush, failed as the injector says.
func (s *Storage) Flush() error {
	if err := s.inj.MaybeError(OpStorageFlush, s.name); err != nil {
		return err
	}
	return s.st.Flush()
}

// Close closes the wrapped storage and then, if the injector says so,
// reports the injected error instead of the storage's.
func (s *Storage) Close() error {
	injected := s.inj.MaybeError(OpStorageClose, s.name)
	err := s.st.Close()
	if injected != nil {
		return injected
	}
	return err
}

// Volume is a ports.Volume whose Storages are wrapped in [Storage]: the one
// Create hands to init (and returns) and those Open returns. Its own
// methods are not operations and pass through.
type Volume struct {
	vol ports.Volume
	inj *Injector
}

// WrapVolume returns vol handing out Storages with the failures inj
// decides.
func WrapVolume(vol ports.Volume, inj *Injector) *Volume { return &Volume{vol: vol, inj: inj} }

// Create creates the channel in the wrapped volume, runs init on the
// wrapped storage and returns that storage.
func (v *Volume) Create(channelID uint64, size int64, init func(ports.Storage) error) (ports.Storage, error) {
	var wrapped *Storage
	if _, err := v.vol.Create(channelID, size, func(st ports.Storage) error {
		wrapped = WrapStorage(st, v.inj, "writer")
		return init(wrapped)
	}); err != nil {
		return nil, err
	}
	return wrapped, nil
}

// Open opens the channel in the wrapped volume and wraps its storage.
func (v *Volume) Open(channelID uint64) (ports.Storage, error) {
	st, err := v.vol.Open(channelID)
	if err != nil {
		return nil, err
	}
	return WrapStorage(st, v.inj, "reader"), nil
}

// Remove removes the channel from the wrapped volume.
func (v *Volume) Remove(channelID uint64) error { return v.vol.Remove(channelID) }

// List lists the wrapped volume's channels.
func (v *Volume) List() ([]uint64, error) { return v.vol.List() }
