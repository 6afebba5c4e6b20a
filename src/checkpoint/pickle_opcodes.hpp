// The pickle protocol's opcodes the reader and writer of torch.save's pickles use, under Python's own
// names (Lib/pickle.py). Internal to the checkpoint library.
#pragma once

namespace torchsystem::checkpoint_detail::op {

constexpr char mark = '(', stop = '.', binint = 'J', binint1 = 'K', binint2 = 'M', none = 'N',
               binpersid = 'Q', reduce = 'R', binunicode = 'X', append = 'a', build = 'b', global = 'c',
               appends = 'e', binget = 'h', long_binget = 'j', empty_list = ']', binput = 'q',
               long_binput = 'r', setitem = 's', tuple = 't', empty_tuple = ')', setitems = 'u',
               binfloat = 'G', empty_dict = '}';
constexpr auto proto = '\x80', tuple1 = '\x85', tuple2 = '\x86', tuple3 = '\x87', newtrue = '\x88',
               newfalse = '\x89', long1 = '\x8a', short_binunicode = '\x8c', binunicode8 = '\x8d',
               stack_global = '\x93', memoize = '\x94', frame = '\x95';

}  // namespace torchsystem::checkpoint_detail::op
