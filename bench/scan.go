package bench

import "bytes"

// Kind is the type of a server message as far as the generator cares.
type Kind uint8

// Message kinds recognised by Scan.
const (
	KindOther Kind = iota
	KindUserList
	KindLogin
	KindLogout
	KindSay
	KindError
)

var kindNames = [...]string{"other", "user_list", "login", "logout", "say", "error"}

// String returns the protocol's name of k ("other" for unknown types).
func (k Kind) String() string { return kindNames[k] }

// Msg is what Scan extracts from one server message, in either dialect
// of workerman-chat (docs/protocol.md). Name and Code alias the scanned
// payload.
type Msg struct {
	Kind Kind
	// UID is "uid" of login/logout and "from_uid" of say; in the current
	// dialect "client_id" of login and "from_client_id" of say/logout.
	UID uint64
	// Members is the number of entries of a user_list, or of the
	// client_list of a newcomer's login in the current dialect.
	Members int
	// Name is the name of a login, Code the code of an error.
	Name, Code []byte
	// Seq and Stamp are the two numbers of a say's content "<seq> <unix-nanos>";
	// HasStamp is false when the content is not of that shape.
	Seq, Stamp int64
	HasStamp   bool
}

var (
	keyType    = []byte(`"type":"`)
	keyUID     = []byte(`"uid":`)
	keyFromUID = []byte(`"from_uid":`)
	keyName    = []byte(`"name":"`)
	keyContent = []byte(`"content":"`)
	keyCode    = []byte(`"code":"`)

	keyClientID     = []byte(`"client_id":`)
	keyFromClientID = []byte(`"from_client_id":`)
	keyClientName   = []byte(`"client_name":"`)
	keyClientList   = []byte(`"client_list":{`)
)

// Scan classifies a server message by byte search, without decoding JSON:
// the server's key order is fixed by the protocol, and the generator has to
// stay far cheaper than the server it measures. Scan never fails; what it
// cannot read is KindOther.
func Scan(p []byte) Msg {
	var m Msg
	v, ok := after(p, keyType)
	if !ok {
		return m
	}
	switch {
	case bytes.HasPrefix(v, []byte(`say"`)):
		m.Kind = KindSay
		m.UID = either(p, keyFromUID, keyFromClientID)
		if c, ok := after(p, keyContent); ok {
			m.Seq, c, ok = digits(c)
			if ok && len(c) > 0 && c[0] == ' ' {
				m.Stamp, _, m.HasStamp = digits(c[1:])
			}
		}
	case bytes.HasPrefix(v, []byte(`login"`)):
		m.Kind = KindLogin
		m.UID = either(p, keyUID, keyClientID)
		if m.Name = str(p, keyName); m.Name == nil {
			m.Name = str(p, keyClientName)
		}
		if list, ok := after(p, keyClientList); ok {
			m.Members = entries(list)
		}
	case bytes.HasPrefix(v, []byte(`logout"`)):
		m.Kind = KindLogout
		m.UID = either(p, keyUID, keyFromClientID)
	case bytes.HasPrefix(v, []byte(`user_list"`)):
		m.Kind = KindUserList
		m.Members = bytes.Count(p, keyUID)
	case bytes.HasPrefix(v, []byte(`error"`)):
		m.Kind = KindError
		m.Code = str(p, keyCode)
	}
	return m
}

// entries counts the members of the JSON object whose body starts obj (just
// after its '{'): the colons outside strings up to its closing '}'. What
// follows the object (the event's "id", other keys) is not counted.
func entries(obj []byte) int {
	n, depth, inStr := 0, 0, false
	for i := 0; i < len(obj); i++ {
		switch c := obj[i]; {
		case inStr:
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == ':' && depth == 0:
			n++
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return n
			}
			depth--
		}
	}
	return n
}

// either parses the number after key, or else after alt.
func either(p, key, alt []byte) uint64 {
	if n, ok := number(p, key); ok {
		return n
	}
	n, _ := number(p, alt)
	return n
}

// after returns what follows the first occurrence of key in p.
func after(p, key []byte) ([]byte, bool) {
	i := bytes.Index(p, key)
	if i < 0 {
		return nil, false
	}
	return p[i+len(key):], true
}

// number parses the unsigned decimal (optionally quoted) after key.
func number(p, key []byte) (uint64, bool) {
	v, ok := after(p, key)
	if !ok {
		return 0, false
	}
	if len(v) > 0 && v[0] == '"' {
		v = v[1:]
	}
	n, _, ok := digits(v)
	return uint64(n), ok
}

// str returns the JSON string after key, up to its closing quote.
func str(p, key []byte) []byte {
	v, ok := after(p, key)
	if !ok {
		return nil
	}
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return v[:i]
		}
	}
	return nil
}

// digits parses a run of decimal digits at the start of b (up to 18, so the
// value fits an int64) and returns the rest.
func digits(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n, b[i:], i > 0
}
