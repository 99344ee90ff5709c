version=2
# liblognorm v2 rulebase for nginx/apache "combined" lines (used by rsyslog mmnormalize).
# Rule 2 catches request lines that are not "METHOD PATH PROTO" (TLS junk, "-").
rule=:%remote_addr:word% %ident:word% %remote_user:word% [%time:char-sep:]%] "%method:word% %path:word% %protocol:char-sep:"%" %status:number% %bytes:word% "%referer:char-sep:"%" "%user_agent:char-sep:"%"
rule=:%remote_addr:word% %ident:word% %remote_user:word% [%time:char-sep:]%] "%request:char-sep:"%" %status:number% %bytes:word% "%referer:char-sep:"%" "%user_agent:char-sep:"%"
# Added for bench/e2e: nginx-combined.log ends each line with one more quoted field ("$http_x_forwarded_for").
rule=:%remote_addr:word% %ident:word% %remote_user:word% [%time:char-sep:]%] "%method:word% %path:word% %protocol:char-sep:"%" %status:number% %bytes:word% "%referer:char-sep:"%" "%user_agent:char-sep:"%" "%forwarded_for:char-sep:"%"
