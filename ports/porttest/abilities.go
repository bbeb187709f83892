package porttest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/kekbit-go/kekbit/ports"
)

// The checks of the optional abilities of a Storage. Each checks the
// ability against the base methods, on the writer's and a reader's storage
// of a channel, whichever implement it, and skips when neither does.

// view is a storage with its Addressable views.
type view struct {
	role
	a ports.Addressable
}

func testAddressable(t *testing.T, h Harness, size int64) {
	vol, w := channel(t, h, size)
	r := open(t, vol, storageID)
	var views []view
	for _, s := range both(w, r) {
		if a, ok := s.st.(ports.Addressable); ok {
			views = append(views, view{s, a})
		}
	}
	if len(views) == 0 {
		t.Skip("storage does not implement ports.Addressable")
	}
	n, words := int(size), int((size+7)/8)

	// agree reports where v's views disagree with its methods, or with
	// each other.
	agree := func(v view, when string) {
		t.Helper()
		b, ws := v.a.Bytes(), v.a.Words()
		if len(b) != n {
			t.Errorf("Addressable: %s len(Bytes()) = %d %s, want Size() = %d", v.name, len(b), when, n)
		}
		if len(ws) != words {
			t.Errorf("Addressable: %s len(Words()) = %d %s, want ceil(Size()/8) = %d", v.name, len(ws), when, words)
		}
		if img := image(t, v.st); len(b) == n && !bytes.Equal(b, img) {
			t.Errorf("Addressable: %s Bytes() disagrees with ReadAt %s (offset %d)", v.name, when, firstDiff(b, img))
		}
		// Words()[i] is LoadUint64(8*i) in native byte order, and
		// Bytes()[8*i:8*i+8] read as a native word.
		badLoad, badBytes, firstLoad, firstBytes := 0, 0, -1, -1
		for i := range min(len(ws), n/8) {
			if got, err := v.st.LoadUint64(int64(8 * i)); err != nil || nativeToLE(ws[i]) != got {
				if badLoad++; firstLoad < 0 {
					firstLoad = i
				}
			}
			if 8*i+8 <= len(b) && binary.NativeEndian.Uint64(b[8*i:]) != ws[i] {
				if badBytes++; firstBytes < 0 {
					firstBytes = i
				}
			}
		}
		if tail := n % 8; tail != 0 && len(ws) == words && len(b) == n {
			if !bytes.Equal(binary.NativeEndian.AppendUint64(nil, ws[words-1])[:tail], b[n-tail:]) {
				if badBytes++; firstBytes < 0 {
					firstBytes = words - 1
				}
			}
		}
		if badLoad > 0 {
			got, err := v.st.LoadUint64(int64(8 * firstLoad))
			t.Errorf("Addressable: %s Words() disagrees with LoadUint64 %s in %d words, first Words()[%d] = %#x (native endian), LoadUint64(%d) = %#x, %v (little endian)",
				v.name, when, badLoad, firstLoad, ws[firstLoad], 8*firstLoad, got, err)
		}
		if badBytes > 0 {
			t.Errorf("Addressable: %s Words() and Bytes() are not the same memory %s: %d words differ, first Words()[%d]", v.name, when, badBytes, firstBytes)
		}
	}
	for _, v := range views {
		agree(v, "on a new channel")
	}

	// What the writer writes through its methods shows in every view.
	if _, err := w.WriteAt(pattern(n, 9), 0); err != nil {
		t.Errorf("WriteAt(%d bytes, 0) = %v", n, err)
	}
	for _, v := range views {
		agree(v, "after the writer's WriteAt")
	}
	for _, off := range []int64{0, 8, (size/8 - 1) * 8} {
		if err := w.StoreUint64(off, 0xFFFF_FFFF_1111_1111^uint64(off)); err != nil {
			t.Errorf("StoreUint64(%d) = %v", off, err)
		}
	}
	for _, v := range views {
		agree(v, "after the writer's StoreUint64")
	}

	// What the writer writes through its views shows through every
	// storage's methods: the domain encodes payloads into Bytes and
	// publishes length words with sync/atomic on Words.
	if aw, ok := w.(ports.Addressable); ok && len(aw.Bytes()) == n && len(aw.Words()) == words {
		copy(aw.Bytes()[24:32], "viewbyte")
		const word = 0x0BAD_F00D_CAFE_D00D
		atomic.StoreUint64(&aw.Words()[1], nativeToLE(word)) // the swap is its own inverse
		for _, s := range both(w, r) {
			p := make([]byte, 8)
			if _, err := s.st.ReadAt(p, 24); err != nil || string(p) != "viewbyte" {
				t.Errorf("Addressable: %s ReadAt(8 bytes, 24) = %q, %v after the writer copied %q into its Bytes()", s.name, p, err, "viewbyte")
			}
			if got, err := s.st.LoadUint64(8); got != word || err != nil {
				t.Errorf("Addressable: %s LoadUint64(8) = %#x, %v after the writer stored %#x into its Words()[1]", s.name, got, err, uint64(word))
			}
		}
		for _, v := range views {
			agree(v, "after the writer wrote through its views")
		}
	}
	// The views last as long as the storage, and must not be used after
	// Close: nothing can be checked then.
}

func testSizer(t *testing.T, h Harness, size int64) {
	vol, w := channel(t, h, size)
	r := open(t, vol, storageID)
	type sizer struct {
		role
		s ports.Sizer
	}
	var sizers []sizer
	add := func(s role) {
		if sz, ok := s.st.(ports.Sizer); ok {
			sizers = append(sizers, sizer{s, sz})
		}
	}
	for _, s := range both(w, r) {
		add(s)
	}
	if len(sizers) == 0 {
		t.Skip("storage does not implement ports.Sizer")
	}
	for _, s := range sizers {
		if got, err := s.s.CurrentSize(); got != size || err != nil {
			t.Errorf("Sizer: %s CurrentSize() = %d, %v on a new channel, want Size() = %d, nil", s.name, got, err, size)
		}
	}
	// Nobody cuts the channel: it never grows past Size either.
	notPast := func(when string) {
		t.Helper()
		for _, s := range sizers {
			got, err := s.s.CurrentSize()
			if err != nil {
				t.Errorf("Sizer: %s CurrentSize() %s: %v", s.name, when, err)
			} else if got > s.st.Size() {
				t.Errorf("Sizer: %s CurrentSize() = %d %s, more than Size() = %d", s.name, got, when, s.st.Size())
			}
		}
	}
	if _, err := w.WriteAt(pattern(int(size), 4), 0); err != nil {
		t.Errorf("WriteAt(%d bytes, 0) = %v", size, err)
	}
	notPast("after WriteAt")
	if err := w.StoreUint64((size/8-1)*8, 1); err != nil {
		t.Errorf("StoreUint64 = %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Errorf("Flush() = %v", err)
	}
	notPast("after StoreUint64 and Flush")
	add(role{"later reader's", open(t, vol, storageID)})
	notPast("once a later reader opened")
	for _, s := range sizers {
		s.st.Close()
		_, err := s.s.CurrentSize()
		wantErr(t, fmt.Sprintf("Sizer: %s CurrentSize after Close", s.name), err, ports.ErrStorageClosed)
	}
}

func testLiveness(t *testing.T, h Harness, size int64) {
	vol, w := channel(t, h, size)
	r := open(t, vol, storageID)
	lw, wok := w.(ports.Liveness)
	lr, rok := r.(ports.Liveness)
	if !wok && !rok {
		t.Skip("storage does not implement ports.Liveness")
	}
	answered := false
	says := func(who string, l ports.Liveness, want bool, when string) {
		t.Helper()
		alive, err := l.WriterAlive()
		switch {
		case err != nil && h.NoLiveness: // it cannot tell, and says so
		case err != nil:
			t.Errorf("Liveness: %s WriterAlive() %s: %v", who, when, err)
		case alive != want:
			answered = true
			t.Errorf("Liveness: %s WriterAlive() = %v %s, want %v", who, alive, when, want)
		default:
			answered = true
		}
	}
	if wok {
		says("writer's", lw, true, "on its own open storage")
	}
	if rok {
		says("reader's", lr, true, "while the writer's storage is open")
	}
	if err := w.Close(); err != nil {
		t.Errorf("writer's Close() = %v", err)
	}
	if rok {
		says("reader's", lr, false, "after the writer's storage was closed")
		if l, ok := open(t, vol, storageID).(ports.Liveness); ok {
			says("reader's", l, false, "on a reader opened after the writer's storage was closed")
		}
		r.Close()
		_, err := lr.WriterAlive()
		wantErr(t, "Liveness: reader's WriterAlive after Close", err, ports.ErrStorageClosed)
	}
	if wok {
		_, err := lw.WriterAlive()
		wantErr(t, "Liveness: writer's WriterAlive after Close", err, ports.ErrStorageClosed)
	}
	if h.NoLiveness && !answered && !t.Failed() {
		t.Skip("Harness.NoLiveness is set and WriterAlive says it cannot tell")
	}
}

func testFaultProne(t *testing.T, h Harness, size int64) {
	vol, w := channel(t, h, size)
	r := open(t, vol, storageID)
	var prone []role
	for _, s := range both(w, r) {
		if _, ok := s.st.(ports.FaultProne); ok {
			prone = append(prone, s)
		}
	}
	if len(prone) == 0 {
		t.Skip("storage does not implement ports.FaultProne")
	}
	other := make([]byte, 1<<16)
	outside := []struct {
		what string
		addr uintptr
	}{
		{"the address of a fresh Go slice", reflect.ValueOf(other).Pointer()},
		{"an address inside a fresh Go slice", reflect.ValueOf(other).Pointer() + 1<<15 + 8},
		{"address 0", 0},
	}
	faulted := func(when string) {
		t.Helper()
		for _, s := range prone {
			for _, o := range outside {
				if s.st.(ports.FaultProne).Faulted(o.addr) {
					t.Errorf("FaultProne: %s Faulted(%s) = true %s, want false: it is outside the storage's memory", s.name, o.what, when)
				}
			}
		}
	}
	faulted("on a new channel")
	if _, err := w.WriteAt(pattern(int(size), 2), 0); err != nil {
		t.Errorf("WriteAt(%d bytes, 0) = %v", size, err)
	}
	faulted("after WriteAt")
	for _, s := range prone {
		s.st.Close()
	}
	faulted("after Close")
	runtime.KeepAlive(other)
}

func testPretoucher(t *testing.T, h Harness, size int64) {
	vol, w := channel(t, h, size)
	n := int(size)
	pretouch := func(s role, model *[]byte, when string) {
		t.Helper()
		p, ok := s.st.(ports.Pretoucher)
		if !ok {
			return
		}
		if err := p.Pretouch(); err != nil {
			t.Errorf("Pretoucher: %s Pretouch() = %v %s, want nil", s.name, err, when)
		}
		unchanged(t, fmt.Sprintf("Pretoucher: %s Pretouch %s", s.name, when), s.st, model)
	}
	_, wok := w.(ports.Pretoucher)
	// Before writing, as a writer does.
	zeros := make([]byte, n)
	pretouch(role{"writer's", w}, &zeros, "on a new channel")

	model := pattern(n, 8)
	if _, err := w.WriteAt(model, 0); err != nil {
		t.Errorf("WriteAt(%d bytes, 0) = %v", n, err)
	}
	if err := w.StoreUint64(8, 0xFFFF_FFFF_1111_1111); err != nil {
		t.Errorf("StoreUint64(8) = %v", err)
	}
	copy(model[8:], le(0xFFFF_FFFF_1111_1111))
	r := open(t, vol, storageID)
	_, rok := r.(ports.Pretoucher)
	if !wok && !rok {
		t.Skip("storage does not implement ports.Pretoucher")
	}
	for _, s := range both(w, r) {
		m := model
		pretouch(s, &m, "after writes")
	}
	if wok {
		// The writer still writes after it.
		if err := w.StoreUint64(16, 42); err != nil {
			t.Errorf("Pretoucher: StoreUint64(16) after Pretouch = %v", err)
		}
		if got, err := r.LoadUint64(16); got != 42 || err != nil {
			t.Errorf("Pretoucher: reader's LoadUint64(16) = %d, %v after the writer's Pretouch and StoreUint64; want 42, nil", got, err)
		}
	}
	for _, s := range both(w, r) {
		if p, ok := s.st.(ports.Pretoucher); ok {
			s.st.Close()
			wantErr(t, fmt.Sprintf("Pretoucher: %s Pretouch after Close", s.name), p.Pretouch(), ports.ErrStorageClosed)
		}
	}
}
