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
  - Routine admins (max(2, Users/40), office workers) do group membership,
    user create/activate/suspend of new hires and contractors, and app
    assignment, every weekday, after user.session.access_admin_app: from
    the office Tuesday to Thursday and from home or the corporate VPN on
    Monday and Friday (their own residential IPs and ASNs, not trusted).
    Every routine type appears in the learning week, except that every
    other admin first activates a user or adds a group member after it
    (trap "admin_first_routine_after_learning"). A help-desk persona
    unlocks accounts and resets passwords, answers evening calls from the
    phone on the carrier's network (trap "admin_on_mobile_network"), and
    resets a lost phone's factors some weekdays (user.mfa.factor.reset_all,
    then the user enrols a new Okta Verify from home: trap
    "helpdesk_factor_reset"). The security admin (the identity team)
    rotates the workforce IdP's certificate (system.idp.lifecycle.update,
    days 1 and 15), creates the directory-sync API token (days 3 and 17),
    grants admin roles to colleagues (days 4, 11, 22) and tightens the
    sign-on rule on day 2 and day 16 (policy.rule.update with changeDetails
    shortening the session lifetime; trap "policy_tightened").
  - Users reset a forgotten password themselves, replace their phone
    (user.mfa.factor.deactivate then .activate) and lock themselves out
    (six typos, user.account.lock, unlock by email); admins and the help
    desk do so too, where they usually work, after the learning week (five
    typos; trap "admin_lockout_own_network"). In a month (Days >=
    21) two employees are suspended for a leave and unsuspended by the
    help desk five days later, then sign in again, and an admin reactivates
    25 contractor accounts in about 8 minutes (trap
    "incident_response_reactivation").
  - Service accounts (in Dataset.Automation, not in Users): svc-ci@ signs
    in with a password (no MFA) and SSOs to GitHub from AWS runners in
    Oregon and Virginia, 3 400 km apart, within the hour; svc-dirsync@
    changes group memberships every two hours from Google Cloud with the
    identity team's API token and runs into the org rate limit
    (system.org.rate_limit.warning twice a week, .violation every other
    Thursday: trap "rate_limit").
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

With Config.Attacks, the scenarios of scenarioTable (scenarios.go) are
spread over day 8 .. Days-2, after every victim's 7-day learning period
(the first 7 days are clean). Victims are plain users (no persona); their
benign traffic pauses around the attack (30 h either side for
location-based scenarios) so no accidental sign-in pairs with the attack.
Each scenario instance has an id "kind#n". Most kinds are one of two
shapes written as data: signInAttack (a victim signs in from an attacker's
network) and adminAction (an admin session does something).

A Label names the detector (or rule id) that should alert, the actor
(actor.alternateId the alert should carry; empty for IP-keyed labels), an
optional target (the account acted on, e.g. by Okta Support), the source
IP and further source IPs (distributed attacks), the first and last event
times and the uuids of the events. Optional labels name detectors that may
legitimately alert as a side effect: they are not counted for recall, and
an alert matching them is not a false positive.

In a month (Days >= 21, unless Config.NoExtended) every kind runs at least
twice and the extended kinds are added: attacks just above each
detector's default threshold (exactly 10 failures in 4 minutes, exactly 10
sprayed users, exactly 5 denied pushes, exactly 20 deactivations), the
evasions of issue 11 (a brute force paced at exactly 30 s and 60 s from a
hosting ASN; low-and-slow bursts of 3 failures every 35 minutes from
rotating hosting addresses; a spray from six addresses of one ASN; New
York to Los Angeles in 90 minutes from a cloud address; Germany to Paris
and New York to Toronto; a stolen session replayed from a cloud region of
the victim's country with the victim's own browser; an admin's New Device
+ New IP sign-in reaching the Admin Console; an established admin's first
network-zone change or factor reset of another user; a password reset by
Okta Support (system@okta.com); a user removing the last factor; a lone
lockout of an admin), and cases just below a threshold: 9 failures, 9
sprayed users (then a sign-in from the source), 4 denied pushes, 19
deactivations, 9 group removals, London to Paris (344 km) and New York to
Chicago at 650 km/h. The below cases are Dataset.NearMisses, not Labels:
their detector must not alert on them.

Scoring (Scorecard, Dataset.Score): a label is detected only by a non-info
alert of its own detector naming its actor (or target) or one of its IPs,
with the alert's [Time, LastTime] overlapping [Start-5m, End+45m]. Alerts
sharing an ID are one grouped alert. A non-info alert matching no label of
its detector is a false positive (an alert on a near miss too); info
alerts count neither way. A detector without a labelled case reports "no
cases", never recall 1. Per detector the scorecard gives recall, false
positives per 1000 user-days (Users x Days; service accounts not counted),
alerts per detected incident (mean and worst) and near-miss alerts.

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
returns their labels. Inject(kind, at) starts one more attack of a kind at a
chosen time (the demo's first live attack, right after its backfill). The
days between cfg.Start (default from − 7 days) and from are simulated
silently so Okta's behaviours continue a real history.
*/
package traffic
