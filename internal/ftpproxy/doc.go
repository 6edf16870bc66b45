// Package ftpproxy is Ferry's FTP proxy: it relays an FTP control
// connection between a client and a backend FTP server line by line and
// carries every data connection through itself, rewriting PORT, EPRT,
// PASV and EPSV (and their replies) on the way.
//
// Three modes choose the backend: reverse (one fixed server), forward (the
// client names it in USER user@host[:port], checked against an allow-list)
// and transparent (Linux: the original destination of a connection
// redirected by iptables or nftables). AUTH TLS is terminated at the proxy,
// so rewriting keeps working under FTPS, and the proxy speaks TLS to the
// backend when the backend offers it.
//
// The proxy authenticates nobody itself and does not use core: the backend
// does. It is imported by app (the ftp-proxy service kind) and cli (ferry
// proxy); it imports only ftpwire and the domain vocabulary.
package ftpproxy
