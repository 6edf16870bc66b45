// Package ftpwire is the FTP wire codec shared by the FTP server, the FTP
// proxy and the FTP client: command lines and replies (RFC 959, multi-line
// replies included), the data-address arguments and replies of PORT, EPRT,
// PASV and EPSV (RFC 959, RFC 2428), the MDTM/MFMT time format (RFC 3659),
// and the LIST (ls -l style), MLSD/MLST fact lines. It is pure: no network,
// no files, no server policy; callers pass in what to format. Any package
// may import it.
package ftpwire
