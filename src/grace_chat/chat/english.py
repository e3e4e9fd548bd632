"""Common words of English that lie a letter or two from one of Grace's words ("fair" is not
"fail", "improved" is not "approved", "quiet" is not "quit", "hear" is not "heal"): the reader
never takes them for typos. The words are the frequent ones of everyday English (about three
uses in a million words or more) that the spelling correction in ``normalize`` would otherwise
bend into one of Grace's words; forms of Grace's own words ("stats", "queue", "requested") and
common misspellings ("dont", "lookin") are left out, so they are still read as hers.
"""

from __future__ import annotations

_WORDS = """
        abortion abortions absorbed absorbing accent accessed according addictive
        admission admissions adopting ahmad alloy almighty appealing appointed assuming
        attain attending awaiting bach bark beck beef beer begging bing black blocking
        bloke boring brake bread breaking brink brooke buck built bury bush bust calf calm
        cancer carey carl carr cell certainty cheating cheek cheeks chick chilling chuck
        citation cleaning clearing clothing coal coil cold compelled compete competed
        completely compressed conceded confined conform congestion contained containing
        continuity convince convinced convincing cook created creating creative creature
        creeping crescent crushed currency curry dawn deadline dealings deciding declared
        declaring defining den dent depending destined detained detected detecting dies
        ding dock docks dome donkey dope doses dove draining dreaming drilling drip drone
        dropping drown dutch dying earliest earnings ease emission emissions employing
        employment ever excellence executive expected fair falling fare fibre find finn
        finnish firing firm fist fitted flooding foil followed fore forge forged forgot
        form freezer frequent frog furnished gave generally generals generator giant given
        gold grand granny greed greek greene guaranteed half halo hand hank hans hardened
        hare hart hat hate hated haven headed header heading headline heads heap hear
        hearing hearings hears heat heated heater heel heels helm herd hive hole holy hong
        hood hull hung impaired impending improved improving inactive inception inclined
        incomplete indefinitely infection infinitely injected injection insisting
        intention invention invest investing keen killer kirk knew knot known knox ladder
        laser late latter laughing layer lean leaning least legged legs lift lime line
        lisa lit lite litter lived liver locking logo lois los loss mae maker male mass
        mast maze mediation mere mighty mike mild millions ming mini mint misses missiles
        mode moist mole monuments moore morse mounting mourning needed nerd ness nets
        newer nicer niche nick nico niece nike nile nine node none nose note noticing
        noting obey objected oriented outgoing owen paint painted painting palace par para
        part passing passions peace penetrate pics pint placed plate point pointed poll
        pork pounding preceded precious prepared preparing pressured presumed prick
        princess printer printers proceeds processor processors programs projected
        projecting protests puck pulp punching punished quiet quite quiz rad reaching
        readiness real reap rear recreate recurring red reducing reed reflected reflecting
        refuge refugee refusing regarding reid rejection relating relaxing remained
        remaining removing repeated repeating replying repost reprinted required requiring
        resort respected respecting restored resulted resulting retained retaining
        retiring retro rewarding ruining selected selecting sessions shale shaw shelf
        shell shin shipping shoe shook short shown sigh simulation sin skin skipping
        slipping slow small smart snow sore sound spain span speeding spending spine spit
        spreading spun stabbing staffing stalking stall standing stare stared staring
        stark starred starring starter starters starving stated states stating statue
        statues statutes stealing stepped stepping sterling stirring stitch strap
        stripping stuart stud studios suggesting suggestion superior supervised
        supervision surf surge surrey suspected swallowed taken tame tape tate tel
        terminal terminals termination thai theo thin thus toll torn tracking trailing
        treating turf uncovered unsuccessful vanished vet vets ware wasting wheat whole
        width wild willy wire wish witch wong wording worm worn worrying wound
"""

ENGLISH = frozenset(_WORDS.split())
