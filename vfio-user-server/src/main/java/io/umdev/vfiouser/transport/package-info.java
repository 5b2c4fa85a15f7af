/**
 * vfio-user messages over a Unix stream socket (junixsocket): one message per send with its file
 * descriptors as SCM_RIGHTS, and exactly one message per receive, never reading ahead.
 */
package io.umdev.vfiouser.transport;
