package oktasim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"sort"
	"strings"
	"time"
)

const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" // #nosec G101 -- an OAuth assertion type (RFC 7523), not a credential

// maxAssertionLifetime is Okta's limit on exp − iat of a client assertion.
const maxAssertionLifetime = time.Hour

// dpopWindow is how far a DPoP proof's iat may be from the simulator clock.
const dpopWindow = 5 * time.Minute

func oauthError(rep *reply, status int, code, desc string) {
	rep.header.Set("Cache-Control", "no-store")
	rep.header.Set("Pragma", "no-cache")
	rep.json(status, OAuthError{Error: code, ErrorDescription: desc})
}

// jws is a parsed compact JWS.
type jws struct {
	header  map[string]any
	claims  map[string]any
	signed  []byte // header.payload
	sig     []byte
	payload []byte
}

func parseJWS(tok string) (*jws, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("bad header encoding")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("bad payload encoding")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("bad signature encoding")
	}
	j := &jws{signed: []byte(parts[0] + "." + parts[1]), sig: sig, payload: pb}
	if err := json.Unmarshal(hb, &j.header); err != nil {
		return nil, errors.New("header is not JSON")
	}
	if err := json.Unmarshal(pb, &j.claims); err != nil {
		return nil, errors.New("payload is not a JSON object")
	}
	return j, nil
}

func (j *jws) str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func (j *jws) num(k string) (time.Time, bool) {
	f, ok := j.claims[k].(float64)
	if !ok {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

func verifyRS256(pub *rsa.PublicKey, signed, sig []byte) bool {
	h := sha256.Sum256(signed)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) == nil
}

func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// handleToken serves POST /oauth2/v1/token: client_credentials with a
// private_key_jwt client assertion. Parameters are read from the query
// string (as SDK v2 sends them) and from a form body.
func (s *Server) handleToken(rep *reply, r *http.Request) {
	if r.Method != http.MethodPost {
		rep.header.Set("Allow", "POST")
		oauthError(rep, http.StatusMethodNotAllowed, "invalid_request", "The token endpoint only accepts POST.")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(rep, http.StatusBadRequest, "invalid_request", "The request body could not be parsed.")
		return
	}
	now := s.now()
	p := r.Form
	if gt := p.Get("grant_type"); gt != "client_credentials" {
		if gt == "" {
			oauthError(rep, http.StatusBadRequest, "invalid_request", "The token request must specify a 'grant_type'. Valid values: [client_credentials]")
			return
		}
		oauthError(rep, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].")
		return
	}
	if p.Get("client_secret") != "" {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "Client authentication failed: okta.* scopes require private_key_jwt client authentication.")
		return
	}
	if p.Get("client_assertion_type") != jwtBearer {
		oauthError(rep, http.StatusBadRequest, "invalid_request", "The 'client_assertion_type' must be "+jwtBearer+".")
		return
	}
	assertion := p.Get("client_assertion")
	if assertion == "" {
		oauthError(rep, http.StatusBadRequest, "invalid_request", "The 'client_assertion' parameter is required.")
		return
	}
	j, err := parseJWS(assertion)
	if err != nil {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "The client_assertion is not a valid JWT: "+err.Error()+".")
		return
	}
	if alg := j.str(j.header, "alg"); alg != "RS256" {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", fmt.Sprintf("The client_assertion signature algorithm %q is not supported; use RS256.", alg))
		return
	}
	iss, sub := j.str(j.claims, "iss"), j.str(j.claims, "sub")
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	client := a.clients[iss]
	if client == nil {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "Invalid value for 'client_id' parameter.")
		return
	}
	if sub != iss {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "The client_assertion 'sub' claim must equal the 'iss' claim (the client_id).")
		return
	}
	if cid := p.Get("client_id"); cid != "" && cid != iss {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "The 'client_id' parameter does not match the client_assertion issuer.")
		return
	}
	// Signature: the key named by kid, or any registered key if no kid.
	kid := j.str(j.header, "kid")
	verified := false
	if kid != "" {
		pub, ok := client.keys[kid]
		if !ok {
			oauthError(rep, http.StatusUnauthorized, "invalid_client", "The client_assertion 'kid' does not identify a key registered for the client.")
			return
		}
		verified = verifyRS256(pub, j.signed, j.sig)
	} else {
		for _, pub := range client.keys {
			if verifyRS256(pub, j.signed, j.sig) {
				verified = true
				break
			}
		}
	}
	if !verified {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "The client_assertion signature is invalid.")
		return
	}
	wantAud := map[string]bool{s.baseURL(r) + tokenPath: true}
	if s.opts.BaseURL != "" {
		wantAud[s.opts.BaseURL+tokenPath] = true
	}
	audOK := false
	for _, au := range audiences(j.claims["aud"]) {
		if wantAud[strings.TrimRight(au, "/")] {
			audOK = true
		}
	}
	if !audOK {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "The audience of the client_assertion must be the token endpoint ("+s.baseURL(r)+tokenPath+").")
		return
	}
	exp, ok := j.num("exp")
	if !ok {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "The client_assertion must contain an 'exp' claim.")
		return
	}
	if !now.Before(exp) {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "The client_assertion token is expired.")
		return
	}
	if iat, ok := j.num("iat"); ok && exp.Sub(iat) > maxAssertionLifetime+time.Second {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "The client_assertion token has an expiration too far in the future (more than one hour after iat).")
		return
	}
	if nbf, ok := j.num("nbf"); ok && now.Add(time.Minute).Before(nbf) {
		oauthError(rep, http.StatusUnauthorized, "invalid_client", "The client_assertion token is not yet valid (nbf).")
		return
	}
	if jti := j.str(j.claims, "jti"); jti != "" {
		for k, e := range a.jtis {
			if now.After(e) {
				delete(a.jtis, k)
			}
		}
		key := iss + "\x00" + jti
		if _, used := a.jtis[key]; used {
			oauthError(rep, http.StatusUnauthorized, "invalid_client", "The client_assertion token has already been used (jti replay).")
			return
		}
		a.jtis[key] = exp
	}
	// Scopes.
	requested := strings.Fields(p.Get("scope"))
	if len(requested) == 0 {
		oauthError(rep, http.StatusBadRequest, "invalid_scope", "The authorization server resource does not have any configured default scopes, 'scope' must be provided.")
		return
	}
	var denied []string
	granted := map[string]bool{}
	for _, sc := range requested {
		if client.scopes[sc] {
			granted[sc] = true
		} else {
			denied = append(denied, sc)
		}
	}
	if len(denied) > 0 {
		oauthError(rep, http.StatusBadRequest, "invalid_scope", "The following scopes are not allowed: "+strings.Join(denied, ", "))
		return
	}
	// DPoP.
	tokenType, jkt := "Bearer", ""
	if proof := r.Header.Get("DPoP"); proof != "" {
		t, err := s.verifyDPoPProof(proof, http.MethodPost, s.baseURL(r)+tokenPath, "", now)
		if err != nil {
			oauthError(rep, http.StatusBadRequest, "invalid_dpop_proof", err.Error())
			return
		}
		tokenType, jkt = "DPoP", t
	} else if s.opts.RequireDPoP {
		oauthError(rep, http.StatusBadRequest, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
		return
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	at := "sim.AT." + base64.RawURLEncoding.EncodeToString(b[:])
	a.access[at] = &accessToken{clientID: iss, scopes: granted, expires: now.Add(s.opts.AccessTokenTTL), jkt: jkt}
	s.stats.add(func(st *Stats) { st.TokensIssued++ })
	scopes := make([]string, 0, len(granted))
	for sc := range granted {
		scopes = append(scopes, sc)
	}
	sort.Strings(scopes)
	rep.header.Set("Cache-Control", "no-store")
	rep.header.Set("Pragma", "no-cache")
	rep.json(http.StatusOK, map[string]any{
		"token_type":   tokenType,
		"expires_in":   int(s.opts.AccessTokenTTL / time.Second),
		"access_token": at,
		"scope":        strings.Join(scopes, " "),
	})
}

// jwkThumbprint computes the RFC 7638 thumbprint of an RSA or EC P-256 JWK
// and returns the parsed public key.
func jwkKey(jwk map[string]any) (pub any, thumb string, err error) {
	str := func(k string) string { s, _ := jwk[k].(string); return s }
	if _, hasD := jwk["d"]; hasD {
		return nil, "", errors.New("the DPoP proof jwk must not contain a private key")
	}
	var canon string
	switch str("kty") {
	case "RSA":
		nb, err1 := base64.RawURLEncoding.DecodeString(str("n"))
		eb, err2 := base64.RawURLEncoding.DecodeString(str("e"))
		if err1 != nil || err2 != nil || len(nb) == 0 || len(eb) == 0 || len(eb) > 4 {
			return nil, "", errors.New("the DPoP proof jwk is not a valid RSA key")
		}
		e := 0
		for _, c := range eb {
			e = e<<8 | int(c)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: e}
		canon = `{"e":"` + str("e") + `","kty":"RSA","n":"` + str("n") + `"}`
	case "EC":
		if str("crv") != "P-256" {
			return nil, "", errors.New("the DPoP proof jwk curve must be P-256")
		}
		xb, err1 := base64.RawURLEncoding.DecodeString(str("x"))
		yb, err2 := base64.RawURLEncoding.DecodeString(str("y"))
		if err1 != nil || err2 != nil || len(xb) != 32 || len(yb) != 32 {
			return nil, "", errors.New("the DPoP proof jwk is not a valid P-256 key")
		}
		raw := append([]byte{4}, append(xb, yb...)...)
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, "", errors.New("the DPoP proof jwk is not on the P-256 curve")
		}
		pub = k
		canon = `{"crv":"P-256","kty":"EC","x":"` + str("x") + `","y":"` + str("y") + `"}`
	default:
		return nil, "", errors.New("the DPoP proof jwk must be an RSA or EC key")
	}
	h := sha256.Sum256([]byte(canon))
	return pub, base64.RawURLEncoding.EncodeToString(h[:]), nil
}

// verifyDPoPProof checks a DPoP proof JWT (RFC 9449) for method htm and URL
// htu; ath, if non-empty, is the expected access-token hash. It returns the
// proof key's thumbprint. The caller holds s.auth.mu (write) or none for
// resource requests (it locks itself there).
func (s *Server) verifyDPoPProof(proof, htm, htu, ath string, now time.Time) (string, error) {
	j, err := parseJWS(proof)
	if err != nil {
		return "", fmt.Errorf("the DPoP proof is not a valid JWT: %v", err)
	}
	if typ := j.str(j.header, "typ"); typ != "dpop+jwt" {
		return "", errors.New("the DPoP proof 'typ' header must be dpop+jwt")
	}
	jwk, _ := j.header["jwk"].(map[string]any)
	if jwk == nil {
		return "", errors.New("the DPoP proof has no 'jwk' header")
	}
	pub, thumb, err := jwkKey(jwk)
	if err != nil {
		return "", err
	}
	switch alg := j.str(j.header, "alg"); alg {
	case "RS256":
		k, ok := pub.(*rsa.PublicKey)
		if !ok || !verifyRS256(k, j.signed, j.sig) {
			return "", errors.New("the DPoP proof signature is invalid")
		}
	case "ES256":
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || len(j.sig) != 64 {
			return "", errors.New("the DPoP proof signature is invalid")
		}
		h := sha256.Sum256(j.signed)
		if !ecdsa.Verify(k, h[:], new(big.Int).SetBytes(j.sig[:32]), new(big.Int).SetBytes(j.sig[32:])) {
			return "", errors.New("the DPoP proof signature is invalid")
		}
	default:
		return "", fmt.Errorf("the DPoP proof algorithm %q is not supported (RS256, ES256)", alg)
	}
	if !strings.EqualFold(j.str(j.claims, "htm"), htm) {
		return "", errors.New("the DPoP proof 'htm' does not match the request method")
	}
	if u := j.str(j.claims, "htu"); strings.TrimRight(u, "/") != strings.TrimRight(htu, "/") {
		return "", errors.New("the DPoP proof 'htu' does not match the request URL")
	}
	iat, ok := j.num("iat")
	if !ok || iat.Before(now.Add(-dpopWindow)) || iat.After(now.Add(dpopWindow)) {
		return "", errors.New("the DPoP proof 'iat' is missing or outside the accepted window")
	}
	jti := j.str(j.claims, "jti")
	if jti == "" {
		return "", errors.New("the DPoP proof must contain a 'jti' claim")
	}
	if ath != "" && j.str(j.claims, "ath") != ath {
		return "", errors.New("the DPoP proof 'ath' does not match the access token")
	}
	for k, e := range s.auth.dpop {
		if now.After(e) {
			delete(s.auth.dpop, k)
		}
	}
	if _, used := s.auth.dpop[jti]; used {
		return "", errors.New("the DPoP proof 'jti' has already been used")
	}
	s.auth.dpop[jti] = now.Add(2 * dpopWindow)
	return thumb, nil
}

// verifyResourceDPoP checks the DPoP proof of a resource request made with a
// DPoP-bound access token. Called with s.auth.mu read-locked; it upgrades
// nothing and records the proof jti under its own short lock section.
func (s *Server) verifyResourceDPoP(r *http.Request, token, jkt string, now time.Time) error {
	proof := r.Header.Get("DPoP")
	if proof == "" {
		return errors.New("the DPoP proof JWT header is missing")
	}
	h := sha256.Sum256([]byte(token))
	ath := base64.RawURLEncoding.EncodeToString(h[:])
	htu := s.baseURL(r) + r.URL.Path
	s.dpopMu.Lock()
	defer s.dpopMu.Unlock()
	thumb, err := s.verifyDPoPProof(proof, r.Method, htu, ath, now)
	if err != nil {
		return err
	}
	if thumb != jkt {
		return errors.New("the DPoP proof key does not match the key the access token is bound to")
	}
	return nil
}
