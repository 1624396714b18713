package bench

import (
	"fmt"
	"testing"
)

func TestScan(t *testing.T) {
	tests := []struct {
		in   string
		want Msg
	}{
		{`{"type":"say","from_uid":783700053,"to_uid":"all","content":"42 1700000000123456789","time":"2014-08-12 17:51:02"}`,
			Msg{Kind: KindSay, UID: 783700053, Seq: 42, Stamp: 1700000000123456789, HasStamp: true}},
		{`{"type":"say","from_uid":7,"to_uid":9,"content":"hi, all !","time":"x"}`,
			Msg{Kind: KindSay, UID: 7}},
		{`{"type":"login","uid":12,"name":"b3","time":"2014-08-12 17:50:30"}`,
			Msg{Kind: KindLogin, UID: 12, Name: []byte("b3")}},
		{`{"type":"logout","uid":12,"time":"2014-08-12 17:50:30"}`, Msg{Kind: KindLogout, UID: 12}},
		{`{"type":"user_list","user_list":[{"uid":1,"name":"a"},{"uid":2,"name":"b"}]}`, Msg{Kind: KindUserList, Members: 2}},
		{`{"type":"error","code":"bad_json","reason":"message is not a JSON object"}`, Msg{Kind: KindError, Code: []byte("bad_json")}},
		{`{"type":"mystery"}`, Msg{}},
		{`not json`, Msg{}},
		{`{"type":"login","uid":"5","name":"a\"b"}`, Msg{Kind: KindLogin, UID: 5, Name: []byte(`a\"b`)}},
		// The current dialect.
		{`{"type":"say","from_client_id":"783700053","from_client_name":"b1","to_client_id":"all","content":"42 1700000000123456789","time":"x"}`,
			Msg{Kind: KindSay, UID: 783700053, Seq: 42, Stamp: 1700000000123456789, HasStamp: true}},
		{`{"type":"login","client_id":"12","client_name":"b3","time":"x"}`, Msg{Kind: KindLogin, UID: 12, Name: []byte("b3")}},
		{`{"type":"login","client_id":"12","client_name":"b3","time":"x","client_list":{"1":"b0","12":"b3"}}`,
			Msg{Kind: KindLogin, UID: 12, Name: []byte("b3"), Members: 2}},
		// The newcomer's login is a room event: its "id" (PROTOCOL.md, History)
		// follows client_list and is no member.
		{`{"type":"login","client_id":"1000","client_name":"b499","time":"x","client_list":{"1":"b0","2":"b500","1000":"b499"},"id":"aoki7skp-1000"}`,
			Msg{Kind: KindLogin, UID: 1000, Name: []byte("b499"), Members: 3}},
		{`{"type":"login","client_id":"7","client_name":"b7","time":"x","client_list":{},"id":"e-7"}`,
			Msg{Kind: KindLogin, UID: 7, Name: []byte("b7")}},
		// Names holding JSON's punctuation, escaped or not.
		{`{"type":"login","client_id":"3","client_name":"a\":\"b","time":"x","client_list":{"1":"x:y","2":"}{","3":"a\":\"b"},"id":"e-3","more":{"k":"v"}}`,
			Msg{Kind: KindLogin, UID: 3, Name: []byte(`a\":\"b`), Members: 3}},
		{`{"type":"logout","from_client_id":"12","from_client_name":"b3","time":"x"}`, Msg{Kind: KindLogout, UID: 12}},
		{`{"type":"ping"}`, Msg{}},
	}
	for _, tt := range tests {
		t.Run(tt.want.Kind.String(), func(t *testing.T) {
			got := Scan([]byte(tt.in))
			if got.Kind != tt.want.Kind || got.UID != tt.want.UID || got.Members != tt.want.Members ||
				string(got.Name) != string(tt.want.Name) || string(got.Code) != string(tt.want.Code) ||
				got.Seq != tt.want.Seq || got.Stamp != tt.want.Stamp || got.HasStamp != tt.want.HasStamp {
				t.Errorf("Scan(%q) = %+v; want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func BenchmarkScanSay(b *testing.B) {
	p := []byte(`{"type":"say","from_uid":783700053,"to_uid":"all","content":"42 1700000000123456789","time":"2014-08-12 17:51:02"}`)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for range b.N {
		if Scan(p).Kind != KindSay {
			b.Fatal("not a say")
		}
	}
}

func BenchmarkScanClientList10000(b *testing.B) {
	p := []byte(`{"type":"login","client_id":"10000","client_name":"b9999","time":"2014-08-12 17:51:02","client_list":{`)
	for i := 1; i <= 10000; i++ {
		if i > 1 {
			p = append(p, ',')
		}
		p = fmt.Appendf(p, `"%d":"b%d"`, i, i-1)
	}
	p = append(p, `},"id":"aoki7skp-10000"}`...)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if Scan(p).Members != 10000 {
			b.Fatal("not 10000 members")
		}
	}
}
