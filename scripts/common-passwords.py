#!/usr/bin/env python3
"""Writes schema/src/auth/common-passwords.txt, the passwords `Password::parse`
refuses (issue 13). Run from the repository root:

    python3 scripts/common-passwords.py

The list is what guessers try first: the passwords that top every published
ranking of leaked passwords (RockYou, NCSC's top 100k, SplashData and
NordPass yearly lists), keyboard walks, digit runs, and the words and names
those passwords are built from, with the digits, years and symbols people
add to reach a length rule. Entries are lower case (the check ignores case)
and at least four characters long: the policy also refuses a listed word
with only digits or symbols around it, and a shorter "word" would refuse
far too much.
"""

import pathlib

# The passwords at the top of the published rankings, most common first.
TOP = """
123456 password 123456789 12345678 12345 qwerty 1234567 111111 1234567890 123123
abc123 1234 password1 iloveyou 1q2w3e4r 000000 qwerty123 zaq12wsx dragon sunshine
princess letmein 654321 monkey 27653 1qaz2wsx 123321 qwertyuiop superman asdfghjkl
football baseball welcome shadow master 666666 7777777 michael 112233 trustno1
jordan23 hello123 charlie aa123456 donald batman passw0rd 1q2w3e4r5t 123qwe
starwars whatever 121212 freedom mustang access flower hottie loveme zaqxsw
qazwsx qwerty1 password123 solo 1qazxsw2 azerty 1111 ninja hunter2 hunter
michelle daniel jessica pepper ginger joshua buster soccer hockey killer
harley ranger thomas robert tigger fuckyou fuckme sexy hannah andrew matthew
maggie yankees amanda summer 696969 cheese computer corvette taylor austin
merlin matrix silver internet biteme banana chelsea william bailey cookie
asdf asdfgh asdfasdf zxcvbnm zxcvbn qazwsxedc 1qaz2wsx3edc qwer1234 q1w2e3r4
q1w2e3r4t5 1q2w3e 123abc abcd1234 abcdef abcdefg abcdefgh a1b2c3 a1b2c3d4
987654321 9876543210 0987654321 0123456789 11111111 1111111111 00000000
0000000000 22222222 88888888 99999999 12341234 123123123 1234512345 147258369
159753 159357 147258 789456 789456123 456789 741852963 123654 321654 963852741
password12 password1234 password12345 password123456 password2 password!
password01 passwort passwd pass1234 pass123 pa55word p4ssword p@ssword
p@ssw0rd pa$$word passpass secret secret123 admin admin123 administrator
root toor changeme default guest login test test123 testing tester user
welcome1 welcome123 letmein1 letmein123 iloveyou1 iloveyou2 iloveyou123
sunshine1 princess1 monkey1 dragon1 football1 baseball1 superman1 batman1
qwerty12 qwerty1234 qwertyui qwertyu qwert qwertz qwertzuiop ytrewq
asdfghjk asdfghj zxcvbnm1 mnbvcxz lkjhgfdsa poiuytrewq 1234qwer 4321rewq
aaaaaa aaaaaaaa abc12345 abcabc abcabc123 abcdefghij 112233445566
samsung apple google yahoo facebook twitter linkedin microsoft windows
iphone android nintendo playstation xbox360 pokemon minecraft fortnite
starwars1 startrek blink182 metallica nirvana slipknot eminem tupac
liverpool arsenal manchester barcelona realmadrid juventus chelsea1
lakers cowboys steelers packers yankees1 redsox patriots eagles raiders
mercedes porsche ferrari corvette1 mustang1 camaro harley1 yamaha honda
money money123 million dollar cash gold silver1 diamond crystal
love lovely loveyou lover lovers loving iloveu iluvu forever always
angel angels baby babygirl babyboy princesa bonita linda cutie sweety
sweetheart sweetie honey sugar candy chocolate cookie1 cupcake
whatever1 nothing something anything everything nobody somebody
jesus jesus1 jesuschrist christ god godisgood blessed faith hope trinity
heaven hell devil lucifer satan angel1 666999
fuckoff fuckyou1 shit bitch asshole bastard dickhead pussy penis sex
killer1 hunter1 shadow1 master1 ninja1 dragon12 dragon123
""".split()

# Words and names the common passwords are made of.
WORDS = """
access action adidas admin adrian airforce alabama alaska albert alex alexander
alexandra alexis alice alicia alien allison amanda amber america american
andrea andrew angel angela angie animal anita anthony apache apple april
arizona arsenal arthur ashley asshole athena atlanta august austin autumn
awesome baby badboy bailey banana bandit barbara barney baseball basketball
batman beach bear beatles beautiful beaver beer benjamin bigboy bigdaddy
bigdog biggie birdie bitch black blahblah blessed blonde blue bluebird
blueberry bob bobby bonnie boomer booboo boston brandon brandy brazil brian
britney brittany broncos brooklyn brother brown bubba bubbles buddy buffalo
bulldog bullet buster butter butterfly caesar california calvin camaro
cameron canada candy captain carlos carmen carolina caroline carter casper
cassie castle catherine cats cattle cecilia champion changeme charles
charlie charlotte cheese chelsea cherry chester chevy chicago chicken
chocolate chris christian christina christine christmas cinderella cindy
claire clark classic cloud coffee college colorado compaq computer condor
cookie cool cooper corona country cowboy cowboys crazy cricket crystal
cuddles daddy daisy dakota dallas dancer daniel danielle danny darkness
darling david death december defender delta denise dennis denver destiny
detroit devil diablo diamond diana dolphin donald dragon dream dreamer
driver eagle eagles edward einstein elephant elizabeth elvis emily eminem
emma energy england eric estrella eternity europe family fantasy farmer
february felicia ferrari fire fishing florida flower flowers flying football
forest forever france frank freddy freedom friend friends frog funny future
gabriel galaxy games garden gemini george georgia german germany ghost
giants ginger girl girls gladiator global golden golf goodluck google
gordon grace green gregory guitar gunner hammer hannah happy harley harry
hawaii heather heaven hello helpme hockey holiday homer honey horse hotdog
house houston hunter iceman indian internet isabel isabella jack jackie
jackson jaguar james january jasmine jason jasper jeffrey jennifer jeremy
jessica jesus johnny jonathan jordan joseph joshua julia julian julie june
junior justice justin kansas karen katherine kathleen katie kelly kennedy
kevin killer kimberly king kingdom kitten kitty knight lakers laura lauren
legend lemon leonardo liberty light lincoln linda lion little liverpool
london lonely love lucky madison maggie magic mama manchester marcus maria
marina marine mario marlboro martin marvin mary master matrix maverick
maxwell melissa memphis mercedes mercury merlin mexico michael michelle
mickey midnight mike miller monday money monica monkey monster montana
moon morgan mother mountain mozart muffin music mustang myspace nathan
natalie nathalie nature nebraska nelson newyork nicholas nicole 
nightmare nintendo nirvana nissan oakland october oliver olivia orange
orlando oscar packers paladin panther panthers paris parker patches
patrick peace peaches peanut pearl penguin pepper phantom phoenix picture
pirate player playboy please pokemon police porsche power precious prince
princess psycho purple pussy qwerty rabbit rachel racing rainbow raider
raiders rambo random ranger rangers rebecca redskins redsox redwings
richard robert robinson rocket rocky romeo rooster rosebud russia
sabrina sailor samantha sammy samson samsung samuel sandra sarah saturn
scooby scooter scorpio scorpion scotland scott secret september serena
sexy shadow shannon sharon shelby sierra silver simone simpsons skippy
slayer smile smokey snoopy snowball soccer sophie sparky spider spiderman
spirit spring stanley star starwars steelers stella steven stupid sugar
summer sunday sunflower sunshine super superman surfer sweet sweety sydney
taylor teacher teddy tennis tequila texas thomas thunder tiger tigers
tigger tinkerbell titanic tomcat topgun toyota travis trinity trouble
turtle twilight united valentine vanessa veronica victor victoria viking
vincent violet virginia warrior washington water welcome whatever white
william willie wilson winner winter wizard wolf wolves wonder yamaha
yankees yellow zachary zeus zxcvbnm
aaron abigail adam alan albert alejandro alfred allen alyssa amy ana andre
andy angelica angelina anna annie antonio april ariel ashlee aubrey audrey
barry ben benny bernard beth betty bill billy blake bradley brenda brittney
bruce bryan caitlin carl carol carrie casey cassandra catalina chad charlene
chelsey cheryl chloe christopher chuck clara claudia clayton cody colin
connor craig crystal curtis cynthia dale dana darren dave dawn dean debbie
deborah derek diane dominic donna doris douglas dylan eddie elaine ella
emilio erica erik erin ethan eva evan faith fernando fiona francis
frederick gail gary gavin gina gloria grant greg hailey hayden heidi helen
henry holly howard ian irene isaac ivan jacob jade jake jamie jane janet
jared jenna jenny jerry jesse jill jim jimmy joan joanna joe joel john
jonas jorge jose juan judy justine kaitlyn karina kate kayla keith ken
kenneth kim kristen kristina kyle lance larry leah lee leo leslie lily lisa
logan lois lorenzo louis lucas lucy luis luke lynn madeline marco margaret
marie marilyn mark matt matthew megan melanie melvin mia miguel mitchell
molly nancy naomi neil nick nina noah norman olga pablo pamela pat paul
paula peter philip phillip rafael ralph randy ray raymond regina ricardo
rick ricky riley rita roberto robin rodney roger ronald rosa rose ross
roy ruby russell ruth ryan sally sam sandy sara sean sebastian sergio
seth shane shawn sheila shirley sofia stacy stephanie stephen steve
stuart susan tammy tanya teresa terry tiffany tim timothy tina todd tom
tommy tony tracy tyler valerie vicky walter wayne wendy zoe
""".split()

KEYBOARD = """
qwertyuiop asdfghjkl zxcvbnm qwertyuiopasdfghjkl qwertyuiopasdfghjklzxcvbnm
qazwsxedc qazwsxedcrfv qazwsxedcrfvtgb 1qaz2wsx 1qaz2wsx3edc 1qaz2wsx3edc4rfv
zaq1xsw2 zaq1xsw2cde3 zaq12wsx xsw2zaq1 1qazxsw2 2wsx3edc 3edc4rfv qweasdzxc
qweasd asdzxc zxcasdqwe 1q2w3e4r5t6y 1q2w3e4r5t6y7u8i 1q2w3e4r5t6y7u8i9o0p
q1w2e3r4t5y6 q1w2e3r4t5y6u7i8o9p0 qwe123 qwe123456 123qweasd 123qweasdzxc
qweqwe qweqweqwe asdasd asdasdasd zxczxc zxczxczxc qwerasdf asdfqwer
qwertasdfg !qaz2wsx !qaz@wsx 1qaz!qaz !qaz1qaz poiuytrewq lkjhgfdsa mnbvcxz
0987654321 1234567890 12345678900 123456789012 1234567890qwertyuiop
qwertyuiop1234567890 147852369 963258741 741852963 159632478 147896325
123698745 1236987 7894561230 3216549870 0147258369 1470258369
azertyuiop qsdfghjklm wxcvbn azerty123 azertyuiop123 qwertz123 qwertzuiop
""".split()

# What people add to a word to reach a length rule.
SUFFIXES = ["1", "12", "123", "1234", "12345", "123456", "1234567", "12345678",
            "123456789", "!", "!!", "1!", "12!", "123!", "01", "007", "69", "13",
            "21", "22", "23", "99", "00", "11", "88", "777", "666", "321", "@123", "#1"]
YEARS = [str(y) for y in range(1960, 2031)]

# Phrases that top the lists on their own.
PHRASES = """
iloveyou iloveyoubaby iloveyousomuch iloveyouforever iloveme ilovemymom
ilovemydad ilovemyfamily ilovegod ilovejesus ilovemusic iloveyou2 letmein
letmeinnow letmein2 welcome1 welcomehome trustno1 trustnoone nopassword
mypassword yourpassword thepassword newpassword oldpassword changeme
changeit changethis passwordpassword password1password qwertyqwerty
monkeymonkey dragondragon loveyouforever foreveryoung hellokitty hellothere
helloworld goodmorning goodnight happybirthday happyday happydays
whatsup whatsupdoc blahblahblah lalala lalalala hahaha hahahaha hehehe
iamthebest imthebest thebest number1 numberone onlyone justme myself
fuckyoubitch fuckthis fuckthat fuckyouall gofuckyourself
superstar rockstar popstar allstar lifesucks lifeisgood itsme
mustangs cowboys1 jordan23 kobe24 lebron23 michaeljordan
liverpoolfc manutd chelseafc arsenalfc barcelona1 realmadrid1
starwars123 pokemon123 minecraft123 fortnite123 roblox roblox123
""".split()


def entries():
    yield from TOP
    yield from PHRASES
    yield from KEYBOARD
    yield from WORDS
    # The most common words with what is added to them, listed in full so
    # the file reads as what it refuses (the check also strips such
    # additions from any listed word, so the rest need not be spelt out).
    top_words = [w for w in dict.fromkeys(TOP) if w.isalpha()][:150]
    for word in top_words:
        for suffix in SUFFIXES:
            yield word + suffix
        yield word + word
    for word in top_words[:40]:
        for year in YEARS:
            yield word + year
    for digit in "0123456789":
        for n in range(4, 17):
            yield digit * n


def main():
    seen = {}
    for entry in entries():
        entry = entry.strip().lower()
        if len(entry) >= 4 and entry not in seen:
            seen[entry] = None
    for allowed in ["correct horse battery", "correcthorsebattery", "not the password"]:
        assert allowed not in seen, allowed
    out = pathlib.Path(__file__).resolve().parent.parent / "schema/src/auth/common-passwords.txt"
    header = (
        "# Passwords Alatar refuses: written by scripts/common-passwords.py (see there).\n"
        "# Lower case; the check ignores case, spaces, and digits or symbols around a listed word.\n"
    )
    out.write_text(header + "\n".join(seen) + "\n")
    print(f"{len(seen)} entries, {out.stat().st_size} bytes -> {out}")


if __name__ == "__main__":
    main()
