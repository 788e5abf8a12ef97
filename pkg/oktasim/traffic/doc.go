/*
Package traffic is oktaguard's Okta System Log traffic generator.

# What it produces

Generate(Config) returns a Dataset: the events of an imaginary organisation,
exactly as GET /api/v1/logs returns them (one JSON object per event, Okta's
field order and quirks: "zone":"null" as a string, string booleans such as
"threatSuspected":"false", behaviors/risk key=value strings,
logOnlySecurityData and tunnels as JSON strings, null securityContext fields
for JOB events, "target":null, top-level Okta Verify "device", changeDetails on
policy changes, rootSessionId next to externalSessionId, published with
milliseconds), sorted by published, with the labels of the attacks hidden in
them. The same Config (Seed included) gives byte-identical output.

Defaults: 300 users, 30 days from DefaultStart (a Monday), no attacks, no late
events, domain example.com. A month of 300 users is about 125 000 events
(14 a user-day) and generates in 1–2 s
(go test ./pkg/oktasim/traffic -run '^$' -bench Generate -benchtime=3x).

# The organisation

  - Users live in a few cities: about 55 % United States, 25 % United
    Kingdom, the rest in Germany, France, Canada, India, the Netherlands,
    Spain, Ireland and Poland (counts are fixed shares of Users, so every
    seed has the same country mix). Each has a residential ISP (real ASN and
    organisation names, synthetic prefixes), one or two stable home IPs, a
    desktop browser, often a phone, a work start hour in their own time
    zone, and 4–8 SSO apps.
  - Weekdays: a sign-in (user.session.start, policy.evaluate_sign_on,
    system.push.send_factor_verify_push, user.authentication.auth_via_mfa with
    Okta Verify push, TOTP or WebAuthn), SSOs spread over the day
    (user.authentication.sso), often an afternoon session and an evening
    phone session; weekends are quiet. 6 % of sign-ins start with 1–2
    mistyped passwords (user.session.start FAILURE INVALID_CREDENTIALS).
    About 15 % change their password during the month.
  - Okta's behaviours (New IP, New Device, New City, New State, New Country,
    Velocity) and risk level are computed from each user's own history.

Every generated persona is a benign trap: nothing below is labelled, so an
alert on it is a false positive. Dataset.Traps lists the notable instances.

  - Office workers (New York, San Francisco, London) sign in from the office
    egress; corporate VPN users (US, UK, DE) sign in through VPN egress in
    their own country. Offices and VPN egress are in Lists.Trusted, as is the
    /28 of the org's own cloud workloads. A session never changes network.
  - Travellers fly to a destination they visit often: the first trip is in the
    learning week, later trips return to the same place. Flights take
    distance/800 km/h + 45 min, sign-ins stop 90 min before departure and
    resume 2 h after landing (plus a "landed" check-in), so no two sign-ins
    exceed plane speed (trap kind "traveller").
  - Mobile users: inside one phone session the IP hops within the carrier's
    ranges (same ASN and country, same user agent), sometimes to another city
    of the same country.
  - Apple iCloud Private Relay users (at least 6): Safari/iPhone sessions from
    Akamai egress in their home city, isProxy=true and
    tunnels=[{"anonymous":true,"operator":"APPLE_PRIVATE_RELAY","type":"PROXY"}].
    Their ranges are in Lists.PrivateRelay (not in Lists.Anonymous). Detectors
    must treat them as Private Relay (anonymous_ip: many users share the
    operator, and Private Relay is demoted to Info).
  - Routine admins (max(2, Users/100), office workers) do group membership,
    user create/activate/suspend of new hires and contractors, and app
    assignment, every weekday, from the office, after
    user.session.access_admin_app; every routine event type appears in the
    learning week. A help-desk persona unlocks accounts and resets passwords.
    A security admin tightens the sign-on rule on day 2 and day 16
    (policy.rule.update with changeDetails shortening the session lifetime;
    trap "policy_tightened").
  - Automation (Dataset.Automation): the "Workday Provisioning" app
    (PublicClientApp, JOB transactions, no client IP) syncs profiles nightly
    at 06:00 UTC and deactivates 22–35 contractor accounts in one JOB every
    Sunday at 05:00 UTC (trap "provisioning_bulk_deactivation", for
    mass_destructive); svc-scim@ (a User with an API token, requestApiTokenId)
    changes group memberships hourly on weekdays from the trusted datacenter
    IP.
  - Stale clients: a few users' mail client retries the old password 12 times,
    every 25 s from the same IP and user agent, minutes after a password
    change (trap "stale_client_after_password_change", for failed_logins).
  - The pen-test account (Dataset.PenTester, "pentest.redteam@<domain>") signs
    in through Tor and a commercial VPN and bursts 14 failed logins from a VPS
    once a week from day 9 (trap "pentest"). It is authorised activity: scope
    it out of detectors (exclude list) — its alerts are not labelled.

# Attacks and labels

With Config.Attacks, the scenarios below are spread over day 8 .. Days-2,
after every victim's 7-day learning period (the first 7 days are clean).
Victims are plain users (no persona); their benign traffic pauses around the
attack (30 h either side for location-based scenarios) so no accidental
sign-in pairs with the attack. Each scenario instance has an id "kind#n".

A Label names the detector (or rule id) that should alert, the actor
(actor.alternateId the alert should carry; empty for IP-keyed labels), the
source IP, the first and last event times and the uuids of the events.
Optional labels name detectors that may legitimately alert as a side effect
(for example infrequent_country on an impossible-travel attack from a rare
country): they are not counted for recall, and an alert matching them is not
a false positive. Label.Matches and Dataset.Score implement that scoring
(same detector, and a shared event id, or the same actor or IP with the alert
time in [Start-5m, End+2h]).

	scenario                      required labels (optional)                    what happens
	impossible_travel (2)         impossible_travel (infrequent_country)        home sign-in, then 35–70 min later a sign-in with SSOs from a residential ISP in Romania, Nigeria, Brazil, Vietnam, Russia or Indonesia; Velocity and New Country POSITIVE, risk HIGH
	infrequent_country (2)        infrequent_country                            a lone sign-in from one of those countries, no home sign-in within 30 h
	anonymous_ip (2)              anonymous_ip (risky_ip_logon)                 #1 a NordVPN exit in the victim's country, #2 a Tor exit; isProxy and tunnels set; IPs in Lists.Anonymous
	suspicious_ip (1)             suspicious_ip (risky_ip_logon)                sign-in from a threat-intel IP (Lists.Suspicious) in the victim's country
	threat_then_signin (1)        suspicious_ip, security_threat_detected       three security.threat.detected (DENY) for an IP, then a sign-in from it with threatSuspected "true"
	failed_logins (2)             failed_logins                                 #1 30 user.session.start failures in ~4 min then user.account.lock; #2 16 user.authentication.verify failures
	password_spray (1)            password_spray (IP-keyed)                     one IP, 25 users, 1–2 attempts each, plus unknown usernames (VERIFICATION_ERROR)
	spray_then_success (1)        password_spray, suspicious_ip                 spray of 14 users, then one of them signs in from the spray IP
	mfa_fatigue (2)               mfa_fatigue (#2 also user_reported_suspicious) password verified from a VPS, 7 pushes with denies (from the victim's phone at home) and timeouts in ~15 min, then approval, session and SSO from the VPS; #2 the victim reports it next morning
	session_hijack (2)            session_hijack (#1: impossible_travel, infrequent_country) victim's session replayed: SSOs with the same externalSessionId from Nigeria (#1) or a same-country VPS with python-requests (#2), plus security.session.detect_client_roaming
	unusual_admin_new_types (1)   unusual_admin                                 a routine admin creates and updates an application (new event types)
	unusual_admin_untrusted_ip (1) unusual_admin                                a routine admin's account does admin work at night from a VPS (New IP, New Device)
	unusual_admin_volume (1)      unusual_admin                                 a routine admin removes 60 group memberships in ~15 min
	mass_destructive (1)          mass_destructive (unusual_admin)              a routine admin deactivates 30 users in ~6 min (WEB)
	mass_destructive_log_stream (1) mass_destructive, log_stream_tampering (unusual_admin) an admin account from a VPS deactivates the log stream and suspends 25 users (critical)
	mass_destructive_new_token (1) mass_destructive, api_token_created (unusual_admin) an admin creates an API token (network ANYWHERE); 20–50 min later the token deactivates 24 users from a VPS (critical)
	risky_ip_logon (2)            risky_ip_logon                                sign-in from a user-defined Risky range (Lists.Risky)
	admin_role_granted (2)        admin_role_granted (unusual_admin)            user.account.privilege.grant Super administrator; group.privilege.grant
	api_token_created (1)         api_token_created (unusual_admin)             system.api_token.create
	idp_lifecycle (1)             idp_lifecycle (unusual_admin)                 system.idp.lifecycle.create and .activate
	policy_weakened (2)           policy_weakened (unusual_admin)               #1 policy.rule.update 2FA→1FA and session lifetime 8 h→7 d (changeDetails); #2 policy.lifecycle.deactivate of the MFA policy
	log_stream_tampering (1)      log_stream_tampering (unusual_admin)          system.log_stream.lifecycle.deactivate
	support_impersonation (1)     support_impersonation                         user.session.impersonation.grant, then .initiate with debugData.originalPrincipal (Okta Support)
	helpdesk_chain (1)            helpdesk_chain, mfa_factor_reset_by_other (unusual_admin) help desk resets the security admin's password and factors; 15–30 min later a sign-in from a VPS enrols a new Okta Verify, then Admin Console access
	dormant_account_activity (1)  dormant_account_activity                      an admin suspends a user; 30–40 h later the account signs in again
	security_threat_detected (1)  security_threat_detected (IP-keyed)           four security.threat.detected (Credential Stuffing, DENY)
	org_under_attack (1)          org_under_attack (actor system@okta.com), password_spray ×3  security.attack.start, three spraying IPs, security.attack.end
	fastpass_phishing (1)         fastpass_phishing                             auth_via_mfa FAILURE "FastPass declined phishing attempt"
	user_reported_suspicious (1)  user_reported_suspicious                      user.account.report_suspicious_activity_by_enduser
	mfa_factor_reset_by_other (1) mfa_factor_reset_by_other (unusual_admin)     help desk resets a user's factors (actor ≠ target)

Config.AttackKinds restricts the scenarios to the listed scenario kinds or
required detector ids (unknown names are an error).

# IP lists and the network table

Dataset.Lists holds the ipLists categories of DESIGN.md (Map() gives
{anonymous, suspicious, risky, trusted} for enrich.Config.Lists). Threat-intel
and Risky ranges use the IETF documentation blocks (203.0.113.0/24,
198.51.100.0/24, 192.0.2.0/24) plus single VPS addresses.
Dataset.Networks is the ASN/geo table of every range used (CIDR, ASN, AS org,
ISP, domain, kind, city with lat/lon); tests build GeoIP City/ASN .mmdb
fixtures from it. Ranges never overlap.

# Late events and live traffic

Config.Late (0..0.5) marks that fraction of events late: Dataset.Delays[i] is
how long after its published time event i becomes visible (90 s–30 min);
DeliveryOrder() returns the events in visibility order for a simulator.

NewStream(cfg, from) yields the same kind of org live: Next(now) returns every
event that became visible since the previous call (late ones after their
delay), and with cfg.Attacks a labelled scenario starts every
cfg.LiveAttackEvery (default 20 min), round-robin over the kinds; Labels()
returns their labels. The days between cfg.Start (default from − 7 days) and
from are simulated silently so Okta's behaviours continue a real history.
*/
package traffic
