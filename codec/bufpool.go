package codec

import (
	"math/bits"
	"unsafe"
)

// Reassembly buffers (a fragmented message, or a text frame that arrives
// in several reads) come from a bounded pool of free buffers, one free
// list per power-of-two size class from 512 bytes to 1 MiB. A message
// whose Payload is such a buffer is valid until the next call to Next,
// which gives the buffer back (Parser.buf). A buffer allocated per
// message, then copied at every doubling, made a 64 KiB frame in
// 1,460-byte reads parse 4-5 times slower than the same frame arriving
// whole.
//
// The free lists are buffered channels: safe for every event loop at
// once, and bounded (each class keeps at most poolClassBytes of free
// buffers; a buffer given back to a full list is left to the garbage
// collector). sync.Pool is not bounded, and its Put of a slice allocates.
const (
	minBufShift    = 9  // 512 bytes, the smallest class
	maxBufShift    = 20 // 1 MiB, the largest class; larger buffers are not pooled
	poolClassBytes = 1 << 20
)

// bufPool holds the free lists. A free buffer is kept as a pointer to its
// first byte (pointer-shaped: a channel send does not allocate); its
// class gives its capacity back.
var bufPool = func() (p [maxBufShift - minBufShift + 1]chan *byte) {
	for i := range p {
		p[i] = make(chan *byte, max(1, poolClassBytes>>(minBufShift+i)))
	}
	return p
}()

// bufClass returns the size class (a shift) of a buffer of want bytes.
func bufClass(want int) int {
	return max(minBufShift, bits.Len(uint(want-1)))
}

// getBuf returns an empty buffer with room for at least want bytes: a
// free one of want's class if there is one, else a new one.
func getBuf(want int) []byte {
	c := bufClass(want)
	if c > maxBufShift {
		return make([]byte, 0, want)
	}
	select {
	case b := <-bufPool[c-minBufShift]:
		return unsafe.Slice(b, 1<<c)[:0]
	default:
		return make([]byte, 0, 1<<c)
	}
}

// poolable reports whether a buffer of capacity c belongs to a class.
func poolable(c int) bool {
	return c >= 1<<minBufShift && c <= 1<<maxBufShift && c&(c-1) == 0
}

// putBuf gives b back to its free list if its capacity is one of the
// classes and the list has room. b must not be used afterwards.
func putBuf(b []byte) {
	c := cap(b)
	if !poolable(c) {
		return
	}
	select {
	case bufPool[bits.Len(uint(c))-1-minBufShift] <- unsafe.SliceData(b[:c]):
	default:
	}
}
